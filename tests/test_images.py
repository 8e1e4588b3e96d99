"""The container builds (which cannot run here: no container engine) agree with the project."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LITELLM = (ROOT / "images" / "litellm" / "Containerfile").read_text(encoding="utf-8")
MODELCAR = (ROOT / "images" / "modelcar" / "Containerfile").read_text(encoding="utf-8")


def test_litellm_image_installs_exactly_what_make_setup_installs():
    assert "pip install --no-cache-dir ." in LITELLM, "the image must install pyproject.toml's pins"
    assert "--no-deps -r requirements-no-deps.txt" in LITELLM
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--no-deps -r images/litellm/requirements-no-deps.txt" in makefile


def test_images_use_pinned_base_images_and_run_as_non_root():
    for name, text in (("litellm", LITELLM), ("modelcar", MODELCAR)):
        for image in re.findall(r"^FROM (\S+)", text, flags=re.M):
            assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned base image {image}"
        assert re.findall(r"^USER (\S+)", text, flags=re.M)[-1] != "0", f"{name}: runs as root"


def test_modelcar_puts_every_default_adapter_where_the_chart_looks():
    values = yaml.safe_load((ROOT / "chart" / "values.yaml").read_text(encoding="utf-8"))
    for adapter in values["adapters"]:
        name = adapter["name"]
        assert f"/tmp/models/adapters/{name}" in MODELCAR, f"modelcar lacks adapter {name}"
    assert "COPY --from=download --chown=1001:0 /tmp/models /models" in MODELCAR
    assert re.search(r"huggingface_hub==\d+\.\d+\.\d+", MODELCAR), "download tool not pinned"


def test_litellm_image_ships_the_router_and_checks_it_loads_offline():
    assert "COPY litellm-configs/*.py litellm-configs/routes.yaml" in LITELLM
    assert "import custom_router" in LITELLM
    assert "LITELLM_LOCAL_MODEL_COST_MAP=True" in LITELLM and "HF_HUB_OFFLINE=1" in LITELLM
