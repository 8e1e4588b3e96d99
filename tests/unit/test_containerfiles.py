"""The container builds agree with the project: the LiteLLM image installs what `make setup`
installs and carries the router's runtime modules only; base images are pinned; nothing runs as
root; the modelcar puts every adapter where the chart looks."""

from __future__ import annotations

import fnmatch
import re

import yaml

from support.paths import CHART, IMAGES, ROOT, ROUTER

LITELLM = (IMAGES / "litellm" / "Containerfile").read_text(encoding="utf-8")
IGNORE = (IMAGES / "litellm" / "Containerfile.containerignore").read_text(encoding="utf-8")
MODELCAR = (IMAGES / "modelcar" / "Containerfile").read_text(encoding="utf-8")


def test_litellm_image_installs_exactly_what_make_setup_installs_hash_checked():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "LOCK := images/litellm/requirements.lock" in makefile
    assert "--require-hashes --no-deps -r requirements.lock" in LITELLM, (
        "the image must install the lock hash-checked"
    )
    assert "--require-hashes --no-deps -r $(LOCK)" in makefile, "make setup must install the lock"


def test_images_use_pinned_base_images_and_run_as_non_root():
    for name, text in (("litellm", LITELLM), ("modelcar", MODELCAR)):
        bases = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)", text, flags=re.M))
        assert bases, f"{name}: the base image must be a build argument"
        for arg, image in bases.items():
            assert ":" in image and not image.endswith(":latest"), f"{name}: {arg} unpinned: {image}"
        assert re.findall(r"^USER (\S+)", text, flags=re.M)[-1] != "0", f"{name}: runs as root"


def test_modelcar_puts_every_default_adapter_where_the_chart_looks():
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    for adapter in values["adapters"]:
        name = adapter["name"]
        assert f"/tmp/models/adapters/{name}" in MODELCAR, f"modelcar lacks adapter {name}"
    assert "COPY --from=models --chown=1001:0 /tmp/models /models" in MODELCAR
    assert re.search(r"huggingface_hub==\d+\.\d+\.\d+", MODELCAR), "download tool not pinned"


def in_build_context(path: str) -> bool:
    """Whether the LiteLLM build sees a file: the ignore file excludes everything (`*`) but its
    `!` patterns, whose `*` stops at a `/` as in Go's filepath.Match."""
    parts = path.split("/")
    return any(
        len(pattern.split("/")) == len(parts)
        and all(fnmatch.fnmatchcase(part, glob) for part, glob in zip(parts, pattern.split("/"), strict=True))
        for line in IGNORE.splitlines()
        if line.startswith("!") and (pattern := line[1:])
    )


def test_the_litellm_image_carries_the_runtime_modules_but_not_the_offline_tools():
    runtime = [p.relative_to(ROOT).as_posix() for p in ROUTER.glob("*.py")]
    tools = [p.relative_to(ROOT).as_posix() for p in (ROUTER / "route_tools").rglob("*.py")]
    assert runtime and tools
    encoder = [p.relative_to(ROOT).as_posix() for p in (ROUTER / "encoder").iterdir()]
    assert all(in_build_context(path) for path in runtime + encoder), (
        "the router and its encoder must reach the image"
    )
    assert not [path for path in tools if in_build_context(path)], "the offline tools must stay out"
    assert "COPY litellm-configs/*.py" in LITELLM
    assert "PYTHONPATH" not in LITELLM, "a .pth file puts the modules on the path, nothing else"
