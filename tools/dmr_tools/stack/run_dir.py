"""The files of one local stack: logs, process records, secrets, and each component's folders."""

from __future__ import annotations

from pathlib import Path

from dmr_tools.processes import Server

# Start order; also the order of the port flags' names in messages.
COMPONENTS = ("vllm", "litellm", "open-webui")
# Started only on request (`make up PROMETHEUS=1`), stopped with the rest.
OPTIONAL = ("prometheus",)


class RunDir:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.env_file = self.root / "env"
        self.secrets_file = self.root / "secrets.json"
        self.logs = self.root / "logs"
        self.pids = self.root / "pids"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def record(self, name: str) -> Path:
        return self.pids / f"{name}.json"

    def component(self, name: str) -> Path:
        return self.root / name

    def running(self, name: str) -> Server | None:
        """The component's server, if the very process this stack started still runs."""
        return Server.recorded(name, self.record(name))

    def env(self) -> dict[str, str]:
        """The `KEY=value` lines of `.run/env`, as `up` wrote them."""
        lines = self.env_file.read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines)

    def routes_file(self) -> Path:
        return self.component("litellm") / "routes" / "routes.yaml"
