"""The modelcar `make images` builds holds the model where the chart's vLLM arguments look for it,
readable by any UID."""

from __future__ import annotations

import pytest

from dmr_tools.chart import find, render
from dmr_tools.stack.rendering import LOCAL_MODEL_VALUES
from support.podman import MODELCAR_IMAGE, podman


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
