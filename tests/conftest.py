"""Shared fixtures: the default routes and decider, and the local stack of real servers (started
once per session, by the same launcher as `make up`)."""

from __future__ import annotations

import os
import re

# Before anything imports litellm: otherwise it tries to fetch a cost map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
from embedding_cache import CACHE_DIR_ENV  # noqa: E402  (imports no litellm)

# The routers the tests build share utterance embeddings, inside the clone (keyed by model and text).
os.environ.setdefault(CACHE_DIR_ENV, os.path.join(os.path.dirname(__file__), "..", ".cache", "embeddings"))

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from route_config import RoutesConfig, load_routes
from route_decider import RouteDecider
from servers import ROOT, base_env, free_port
from stack.launcher import COMPONENTS, RunDir, tail

BASE_MODEL = "phi2"


@pytest.fixture(scope="session")
def default_routes() -> RoutesConfig:
    return load_routes()


@pytest.fixture(scope="session")
def decider(default_routes: RoutesConfig) -> RouteDecider:
    return RouteDecider(default_routes)


class Log:
    """A server's log file, as the local stack writes it."""

    def __init__(self, path: Path):
        self.path = path

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return tail(self.path, lines)


@dataclass
class Stack:
    """The local stack as `make up` brings it up: its run directory, `.run/env` and what it printed."""

    run_dir: Path
    env: dict[str, str]
    output: str

    def log(self, name: str) -> Log:
        return Log(RunDir(self.run_dir).log(name))


def stack_command(run_dir: Path, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m stack`, the launcher behind `make up` and `make down`."""
    return subprocess.run(
        [sys.executable, "-m", "stack", "--run-dir", str(run_dir), *args],
        cwd=ROOT,
        env=base_env(PYTHONPATH=str(ROOT / "tests")),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


# The tests' stack is `make up`'s plus vLLM's runtime adapter API, so a test can take an adapter away.
TEST_VALUES = ROOT / "tests" / "chart-values" / "runtime-lora.yaml"


def stack_up(run_dir: Path, ports: list[str], timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """`make up` for the tests' stack: starts whatever of it is not running, on these port options."""
    return stack_command(run_dir, "up", *ports, "--values", str(TEST_VALUES), timeout_s=timeout_s)


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def port_flags(ports: dict[str, int] | None = None) -> list[str]:
    """`python -m stack up`'s port options: the given {component: port}, or free ports."""
    chosen = ports or dict(zip(COMPONENTS, free_ports(len(COMPONENTS)), strict=True))
    return [arg for name in COMPONENTS for arg in (f"--{name}-port", str(chosen[name]))]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole local stack, started as `make up` starts it (plus TEST_VALUES), on free ports."""
    run_dir = tmp_path_factory.mktemp("run")
    result = stack_up(run_dir, port_flags(), timeout_s=1200)
    if result.returncode != 0:
        stack_command(run_dir, "down")
        pytest.fail(f"the stack did not come up:\n{result.stdout}\n{result.stderr}")
    try:
        yield Stack(run_dir, RunDir(run_dir).env(), result.stdout)
    finally:
        stack_command(run_dir, "down")


@dataclass
class Vllm:
    api_base: str
    log: Log

    def served(self, since: int = 0) -> list[tuple[str, str]]:
        """(log line, model) for each request vLLM logged after character `since` of its log.

        The model is the LoRA adapter's name, or the base model for requests without one.
        """
        lines = self.log.text()[since:].splitlines()
        return [
            (line, lora.group(1) if (lora := re.search(r"lora_name='([^']+)'", line)) else BASE_MODEL)
            for line in lines
            if "Received request" in line
        ]


@pytest.fixture(scope="session")
def vllm(stack: Stack) -> Vllm:
    return Vllm(f"{stack.env['VLLM_URL']}/v1", stack.log("vllm"))


@dataclass
class Proxy:
    url: str
    key: str
    routes_file: Path
    # The routes as deployed, to put back after a test edits them.
    routes_text: str
    log: Log


@pytest.fixture(scope="session")
def proxy(stack: Stack) -> Proxy:
    """The real LiteLLM proxy with the proxy config, plugin and routes the chart renders."""
    routes_file = Path(stack.env["ROUTES_FILE"])
    return Proxy(
        stack.env["LITELLM_URL"],
        stack.env["LITELLM_MASTER_KEY"],
        routes_file,
        routes_file.read_text(encoding="utf-8"),
        stack.log("litellm"),
    )


@pytest.fixture(scope="session")
def api(proxy: Proxy) -> Iterator[openai.OpenAI]:
    """The official OpenAI client, pointed at the proxy with the master key."""
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0)
    yield client
    client.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests marked `last` stop the shared stack, so they run after everything else.
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
