"""The local stack as the tests see it: `python -m dmr_tools.stack` (what `make up` and `make down` run), and
what a running stack offers a test (its run directory, `.run/env`, logs, the proxy and vLLM)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from dmr_tools.paths import CHART_VALUES, ROOT
from dmr_tools.processes import Server, base_env, command_line, environment, free_port, tail
from dmr_tools.stack.run_dir import COMPONENTS, RunDir

# The tests' stack is `make up`'s plus runtime adapters (and with them vLLM's runtime adapter API,
# so a test can also take a chart adapter away).
# Runtime adapters and shadow decisions on: the tests use both volumes.
TEST_VALUES = (CHART_VALUES / "runtime-adapters.yaml", CHART_VALUES / "shadow.yaml")
BASE_MODEL = "phi2"


def stack_command(run_dir: Path, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m dmr_tools.stack`, the launcher behind `make up` and `make down`."""
    return subprocess.run(
        [sys.executable, "-m", "dmr_tools.stack", "--run-dir", str(run_dir), *args],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def stack_up(run_dir: Path, ports: list[str], timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """`make up` for the tests' stack: starts whatever of it is not running, on these port options."""
    values = [arg for path in TEST_VALUES for arg in ("--values", str(path))]
    return stack_command(run_dir, "up", *ports, *values, timeout_s=timeout_s)


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def port_flags(ports: dict[str, int] | None = None) -> list[str]:
    """`python -m dmr_tools.stack up`'s port options: the given {component: port}, or free ports."""
    chosen = ports or dict(zip(COMPONENTS, free_ports(len(COMPONENTS)), strict=True))
    return [arg for name in COMPONENTS for arg in (f"--{name}-port", str(chosen[name]))]


def current_ports(run: RunDir) -> list[str]:
    """The port options that bring the stack back on the ports it runs on now."""
    ports = {}
    for name in COMPONENTS:
        server = run.running(name)
        assert server is not None and server.port is not None, f"{name} is not running"
        ports[name] = server.port
    return port_flags(ports)


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

    @property
    def run(self) -> RunDir:
        return RunDir(self.run_dir)

    def log(self, name: str) -> Log:
        return Log(self.run.log(name))


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


@dataclass
class Proxy:
    url: str
    key: str
    routes_file: Path
    # The routes as deployed, to put back after a test edits them.
    routes_text: str
    log: Log

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def sample(self, name: str, **labels: str) -> float | None:
        """A sample's value on the proxy's own /metrics/ now (None: no such series)."""
        page = httpx.get(f"{self.url}/metrics/", headers=self.headers, timeout=30).text
        for family in text_string_to_metric_families(page):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return None

    def chat(self, messages: list[dict], model: str = "auto", max_tokens: int = 8) -> httpx.Response:
        """One short chat completion through the proxy, with the master key."""
        return httpx.post(
            f"{self.url}/v1/chat/completions",
            headers=self.headers,
            json={"model": model, "messages": messages, "max_tokens": max_tokens},
            timeout=60,
        )


def proxy_copy(
    stack: Stack, routes_file: Path, log: Path, config: Path | None = None, **environment_: str
) -> tuple[Server, int]:
    """A second proxy run exactly as the stack runs its own (read from /proc), with other routes
    (and another proxy config, if given) and these environment variables, and its port."""
    pid = stack.run.running("litellm").pid
    env = {**environment(pid), "SEMANTIC_ROUTES_FILE": str(routes_file), **environment_}
    port = free_port()
    cmd = [arg for arg in command_line(pid) if not arg.startswith("--port")] + [f"--port={port}"]
    if config is not None:
        cmd[cmd.index("--config") + 1] = str(config)
    return Server.start("litellm-copy", cmd, env, log, port), port
