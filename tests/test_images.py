"""The container builds agree with the project; the modelcar `make images` builds holds the model
where the chart's vLLM arguments look for it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chart import find, render
from podman import MODELCAR_IMAGE, podman
from stack.launcher import LOCAL_MODEL_VALUES

ROOT = Path(__file__).resolve().parent.parent
LITELLM = (ROOT / "images" / "litellm" / "Containerfile").read_text(encoding="utf-8")
MODELCAR = (ROOT / "images" / "modelcar" / "Containerfile").read_text(encoding="utf-8")


def test_litellm_image_installs_exactly_what_make_setup_installs_hash_checked():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "LOCK := images/litellm/requirements.lock" in makefile
    assert "NO_DEPS := images/litellm/requirements-no-deps.txt" in makefile
    for name, variable in (("requirements.lock", "LOCK"), ("requirements-no-deps.txt", "NO_DEPS")):
        assert f"--require-hashes --no-deps -r {name}" in LITELLM, (
            f"the image must install {name} hash-checked"
        )
        assert f"--require-hashes --no-deps -r $({variable})" in makefile, f"make setup must install {name}"


def test_images_use_pinned_base_images_and_run_as_non_root():
    for name, text in (("litellm", LITELLM), ("modelcar", MODELCAR)):
        bases = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)", text, flags=re.M))
        assert bases, f"{name}: the base image must be a build argument"
        for arg, image in bases.items():
            assert ":" in image and not image.endswith(":latest"), f"{name}: {arg} unpinned: {image}"
        assert re.findall(r"^USER (\S+)", text, flags=re.M)[-1] != "0", f"{name}: runs as root"


def test_modelcar_puts_every_default_adapter_where_the_chart_looks():
    values = yaml.safe_load((ROOT / "chart" / "values.yaml").read_text(encoding="utf-8"))
    for adapter in values["adapters"]:
        name = adapter["name"]
        assert f"/tmp/models/adapters/{name}" in MODELCAR, f"modelcar lacks adapter {name}"
    assert "COPY --from=models --chown=1001:0 /tmp/models /models" in MODELCAR
    assert re.search(r"huggingface_hub==\d+\.\d+\.\d+", MODELCAR), "download tool not pinned"


@pytest.mark.integration
@pytest.mark.pods
def test_built_modelcar_has_every_file_the_charts_vllm_arguments_name_readable_by_any_uid():
    runtime = find(render(str(LOCAL_MODEL_VALUES)), "ServingRuntime")
    args = runtime["spec"]["containers"][0]["args"]
    model = next(a.split("=", 1)[1] for a in args if a.startswith("--model="))
    adapters = [
        a.split("=", 1)[1] for a in args[args.index("--lora-modules") + 1 :] if not a.startswith("--")
    ]
    files = [f"{model}/config.json", *(f"{path}/adapter_config.json" for path in adapters)]
    # KServe mounts the modelcar's /models at /mnt/models.
    in_image = [f.replace("/mnt/models", "/models", 1) for f in files]
    check = "; ".join(f'test -r "{f}" || echo "missing {f}"' for f in in_image)
    check += '; find /models -type f ! -readable -printf "unreadable %p\\n"'
    result = podman(
        "run", "--rm", "--user", "1000650000:0", "--read-only", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--network", "none", MODELCAR_IMAGE, "sh", "-c", check,
    )  # fmt: skip
    assert result.stdout == "", result.stdout
    assert len(in_image) == 3, in_image
