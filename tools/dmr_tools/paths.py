"""Where things are in the checkout, and the programs `make setup` installs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "chart"
ROUTER = ROOT / "litellm-configs"
IMAGES = ROOT / "images"
TESTS = ROOT / "tests"
BACKEND = ROOT / "tools" / "backend"
CHART_VALUES = TESTS / "chart-values"
DATA = TESTS / "data"
ARTIFACTS = ROOT / "test-artifacts"
CACHE = ROOT / ".cache"
TOOLS = ROOT / ".tools"
HELM = TOOLS / "helm"
README_GENERATOR = TOOLS / "node_modules" / ".bin" / "readme-generator"
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
LITELLM_BIN = ROOT / ".venv" / "bin" / "litellm"
OPEN_WEBUI_BIN = ROOT / ".venv-webui" / "bin" / "open-webui"
TRAIN_PYTHON = ROOT / ".venv-train" / "bin" / "python"
CHROMIUM = Path("/usr/bin/chromium")
PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
DASHBOARD = CHART / "files" / "dashboard.json"
