"""Shared fixtures: the default routes and decider, and the real servers (started once per session)."""

from __future__ import annotations

import os
import re

# Before anything imports litellm: otherwise it tries to fetch a cost map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from chart import chart_file, find, render
from route_config import RoutesConfig, load_routes
from route_decider import RouteDecider
from servers import LITELLM_BIN, OPEN_WEBUI_BIN, ROOT, VLLM_PYTHON, Server, base_env, free_port

ADAPTERS = ("doctor", "dcot")
BASE_MODEL = "phi2"


@pytest.fixture(scope="session")
def default_routes() -> RoutesConfig:
    return load_routes()


@pytest.fixture(scope="session")
def decider(default_routes: RoutesConfig) -> RouteDecider:
    return RouteDecider(default_routes)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Phi base model and real LoRA adapters, generated offline."""
    if not VLLM_PYTHON.exists():
        pytest.fail(f"{VLLM_PYTHON} is missing: run `make setup` first")
    out = tmp_path_factory.mktemp("tiny-phi")
    subprocess.run(
        [str(VLLM_PYTHON), str(ROOT / "tests" / "backend" / "make_tiny_phi.py"), str(out), *ADAPTERS],
        env=base_env(),
        check=True,
        capture_output=True,
    )
    return out


@dataclass
class Vllm:
    api_base: str
    server: Server

    def served(self, since: int = 0) -> list[tuple[str, str]]:
        """(log line, model) for each request vLLM logged after character `since` of its log.

        The model is the LoRA adapter's name, or the base model for requests without one.
        """
        lines = self.server.log_text()[since:].splitlines()
        return [
            (line, lora.group(1) if (lora := re.search(r"lora_name='([^']+)'", line)) else BASE_MODEL)
            for line in lines
            if "Received request" in line
        ]


@pytest.fixture(scope="session")
def vllm(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vllm]:
    port = free_port()
    cmd = [
        str(VLLM_PYTHON),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--model={tiny_models / 'base'}",
        f"--served-model-name={BASE_MODEL}",
        "--enable-lora",
        "--max-lora-rank=8",
        f"--max-loras={len(ADAPTERS)}",
        "--lora-modules",
        *(f"{name}={tiny_models / name}" for name in ADAPTERS),
        "--max-model-len=512",
        "--max-num-seqs=4",
        "--kv-cache-memory-bytes=67108864",
        # Logs each request's id and LoRA adapter (not its prompt at INFO): the tests'
        # proof of which model vLLM really served.
        "--enable-log-requests",
    ]
    server = Server("vLLM", cmd, base_env(), tmp_path_factory.mktemp("vllm-log") / "vllm.log")
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/v1/models", timeout_s=300)
        yield Vllm(f"http://127.0.0.1:{port}/v1", server)
    finally:
        server.stop()


@dataclass
class Proxy:
    url: str
    key: str
    routes_file: Path
    # The routes as deployed, to put back after a test edits them.
    routes_text: str
    server: Server


@pytest.fixture(scope="session")
def proxy(vllm: Vllm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The real LiteLLM proxy with the proxy config and routes the chart deploys, and the hook."""
    workdir = tmp_path_factory.mktemp("proxy")
    config_file = workdir / "config.yaml"
    config_file.write_text(
        chart_file("litellm/litellm-config-configmap.yaml", "config.yaml"), encoding="utf-8"
    )
    routes_file = workdir / "routes.yaml"
    routes_text = chart_file("litellm/litellm-routes-configmap.yaml", "routes.yaml")
    routes_file.write_text(routes_text, encoding="utf-8")
    port = free_port()
    key = "sk-" + secrets.token_urlsafe(24)
    env = base_env(
        VLLM_API_BASE=vllm.api_base,
        VLLM_API_KEY="unused",
        LITELLM_MASTER_KEY=key,
        SEMANTIC_ROUTES_FILE=str(routes_file),
        # As in the pod: the plugin modules are importable by name.
        PYTHONPATH=str(ROOT / "litellm-configs"),
    )
    cmd = [str(LITELLM_BIN), "--config", str(config_file), "--host", "127.0.0.1", "--port", str(port)]
    server = Server("LiteLLM", cmd, env, workdir / "litellm.log")
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/health/liveliness", timeout_s=120)
        yield Proxy(f"http://127.0.0.1:{port}", key, routes_file, routes_text, server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def api(proxy: Proxy) -> Iterator[openai.OpenAI]:
    """The official OpenAI client, pointed at the proxy with the master key."""
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0)
    yield client
    client.close()


# This machine has no internet: Open WebUI must not try to fetch models or updates.
OPEN_WEBUI_OFFLINE = {
    "OFFLINE_MODE": "true",
    "RAG_EMBEDDING_ENGINE": "openai",
    "BYPASS_EMBEDDING_AND_RETRIEVAL": "true",
    "ENABLE_PERSISTENT_CONFIG": "false",
    "ENABLE_VERSION_UPDATE_CHECK": "false",
    "ENABLE_TITLE_GENERATION": "false",
    "ENABLE_TAGS_GENERATION": "false",
    "ENABLE_FOLLOW_UP_GENERATION": "false",
    "ENABLE_AUTOCOMPLETE_GENERATION": "false",
}


@pytest.fixture(scope="session")
def open_webui(proxy: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Real Open WebUI with the environment the chart deploys, pointed at the local proxy."""
    if not OPEN_WEBUI_BIN.exists():
        pytest.fail(f"{OPEN_WEBUI_BIN} is missing: run `make setup` first")
    deployment = find(render(), "Deployment", "-open-webui")
    chart_env = {
        e["name"]: e["value"]
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        if "value" in e
    }
    workdir = tmp_path_factory.mktemp("open-webui")
    port = free_port()
    # The chart's settings, with this machine's paths, proxy and secrets in place of the cluster's.
    local = {
        "DATA_DIR": str(workdir / "data"),
        "HOME": str(workdir),
        "OPENAI_API_BASE_URLS": f"{proxy.url}/v1",
        "OPENAI_API_KEYS": proxy.key,
        "WEBUI_SECRET_KEY": secrets.token_urlsafe(32),
    }
    env = base_env(**{**chart_env, **OPEN_WEBUI_OFFLINE, **local})
    cmd = [str(OPEN_WEBUI_BIN), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = Server("Open WebUI", cmd, env, workdir / "open-webui.log")
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/health", timeout_s=180)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
