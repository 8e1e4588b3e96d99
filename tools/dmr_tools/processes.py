"""One supervisor for every server the tests and the local stack start.

A server runs in its own process group with its output appended to a log file. It is known by
its PID and start time (field 22 of /proc/PID/stat), optionally written to a record file, so
another process (`make down` after `make up`) stops exactly that group and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


class NotReady(RuntimeError):
    """A server exited or did not answer in time; the message ends with its last log lines."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether a server could listen on the port now (as servers do, ignoring closed connections
    still in TIME_WAIT; a listening socket still makes it busy)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_ok(
    url: str, alive: Callable[[], bool], timeout_s: float, what: str, tail: Callable[[], str]
) -> float:
    """Poll `url` until it answers 200 and return the seconds it took; raise NotReady as soon as
    `alive()` says the server is gone, or after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if not alive():
            raise NotReady(f"{what} exited before it was ready; last log lines:\n{tail()}")
        if answers_ok(url):
            return time.monotonic() - started
        time.sleep(0.5)
    raise NotReady(f"{what} not ready after {timeout_s:.0f} s; last log lines:\n{tail()}")


def until(
    what: str,
    check: Callable[[], T],
    timeout_s: float = 60,
    interval_s: float = 0.5,
    detail: Callable[[], str] | None = None,
) -> T:
    """check()'s first truthy result, asked every interval_s; fails naming `what` after timeout_s,
    with detail() (a log's tail, the last answer) when given."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{what}: not within {timeout_s:.0f} s" + (f"\n{detail()}" if detail else "")
            )
        time.sleep(interval_s)
    return found


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def live_members(pgid: int) -> list[int]:
    """PIDs of the process group that still run (a zombie has exited; only its reaping is left)."""
    members = []
    for proc in Path("/proc").iterdir():
        fields = stat_fields(int(proc.name)) if proc.name.isdigit() else None
        if fields and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(proc.name))
    return members


def command_line(pid: int) -> list[str]:
    """A running process's arguments, from /proc."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def environment(pid: int) -> dict[str, str]:
    """A running process's environment, from /proc."""
    items = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(item.split("=", 1) for item in items if "=" in item)


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


class Server:
    """A server process group this supervisor started (now, or earlier and recorded)."""

    def __init__(self, name: str, pid: int, start_time: str | None, log_path: Path, port: int | None = None):
        self.name = name
        self.pid = pid
        self.start_time = start_time
        self.log_path = log_path
        self.port = port
        self._child: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(
        cls,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        log_path: Path,
        port: int | None = None,
        record: Path | None = None,
    ) -> Server:
        """Start `cmd` in a process group of its own; `record` keeps it findable by other processes."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            child = subprocess.Popen(
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        fields = stat_fields(child.pid)
        server = cls(name, child.pid, fields[19] if fields else None, log_path, port)
        server._child = child
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(
                json.dumps(
                    {"pid": server.pid, "start_time": server.start_time, "port": port, "log": str(log_path)}
                ),
                encoding="utf-8",
            )
        return server

    @classmethod
    def recorded(cls, name: str, record: Path) -> Server | None:
        """The server a record names, if that very process still runs."""
        if not record.exists():
            return None
        found = json.loads(record.read_text(encoding="utf-8"))
        server = cls(name, found["pid"], found["start_time"], Path(found.get("log", "")), found.get("port"))
        return server if server.alive() else None

    def alive(self) -> bool:
        if self._child is not None and self._child.poll() is not None:
            return False
        fields = stat_fields(self.pid)
        return fields is not None and fields[0] != "Z" and fields[19] == self.start_time

    @property
    def returncode(self) -> int | None:
        return self._child.poll() if self._child is not None else None

    def wait_ready(self, url: str, timeout_s: float) -> float:
        """Poll `url` until it answers 200; the seconds it took. Raises NotReady if the server
        exits first or is not ready in time (and then stops it)."""
        try:
            return wait_until_ok(url, self.alive, timeout_s, self.name, self.tail)
        except NotReady:
            self.stop()
            raise

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def members(self) -> list[int]:
        return live_members(self.pid)

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM to the whole group, SIGKILL to what is left after `timeout_s`; returns once
        no member runs."""
        if self.members():
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.members() and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.members():
            os.killpg(self.pid, signal.SIGKILL)
            while self.members():
                time.sleep(0.1)
        if self._child is not None:
            self._child.wait()


def base_env(**extra: str) -> dict[str, str]:
    """This environment without settings meant for other servers, plus the offline switches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "VLLM_", "OPENAI_"))}
    env.update(HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True", VLLM_NO_USAGE_STATS="1")
    env.update(extra)
    return env
