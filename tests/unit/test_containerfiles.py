"""The container builds agree with the project: the LiteLLM image installs what `make setup`
installs and carries the router's runtime modules only; base images are pinned; nothing runs as
root; the modelcar puts every adapter where the chart looks."""

from __future__ import annotations

import re

import yaml

from dmr_tools.paths import CHART, IMAGES, ROOT, ROUTER

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


def _glob(pattern: str) -> re.Pattern[str]:
    """A containerignore pattern as a regex: `*` stops at a `/`, `**` spans folders."""
    wild = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    return re.compile("".join(wild.get(part, re.escape(part)) for part in parts))


def in_build_context(path: str) -> bool:
    """Whether the LiteLLM build sees a file: the last pattern of the ignore file that matches the
    path or a folder above it decides, `!` patterns taking it in (as podman and docker read it)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    seen = False
    for line in IGNORE.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern = _glob(line.removeprefix("!"))
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            seen = line.startswith("!")
    return seen


def test_the_litellm_image_carries_the_router_package_and_its_configuration_but_not_training_data():
    package = ROUTER / "dynamic_model_router"
    code = [p.relative_to(ROOT).as_posix() for p in [ROUTER / "custom_router.py", *package.rglob("*.py")]]
    shipped = [
        p.relative_to(ROOT).as_posix() for p in [*(ROUTER / "encoder").iterdir(), ROUTER / "routes.yaml"]
    ]
    training = [
        p.relative_to(ROOT).as_posix() for p in (package / "training").rglob("*") if p.suffix != ".py"
    ]
    assert code and training, "the package and its training data must exist"
    missing = [path for path in code + shipped if not in_build_context(path)]
    assert not missing, f"the router's code and shipped configuration must reach the image: {missing}"
    assert not [path for path in training if in_build_context(path)], "the training data must stay out"
    assert "--no-deps --no-build-isolation ./router-src" in LITELLM, "the image installs the package"
    assert "PYTHONPATH" not in LITELLM and ".pth" not in LITELLM, (
        "the package is installed, not put on a path"
    )
