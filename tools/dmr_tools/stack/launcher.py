"""The local stack: vLLM, the LiteLLM proxy and Open WebUI, started from what the chart renders.

`make up` and the end-to-end tests both call `up` (through `python -m dmr_tools.stack`), so what people run
is what is tested. Every process gets its own process group and a record (PID and start time)
under the run directory; `down` stops exactly those groups, and nothing else.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from dmr_tools.processes import Server, answers_ok, port_free, tail

from . import pods
from .console import StackError, say, timed
from .rendering import Settings, load_secrets, local_processes, model_dir, rendering
from .run_dir import COMPONENTS, OPTIONAL, RunDir

PORT_VARIABLES = {
    "vllm": "VLLM_PORT",
    "litellm": "PROXY_PORT",
    "open-webui": "UI_PORT",
    "prometheus": "PROMETHEUS_PORT",
}
READY_TIMEOUT_S = {"vllm": 600, "litellm": 300, "open-webui": 300, "prometheus": 120}
HEARTBEAT_S = 15


def lay_out(run: RunDir, process: pods.LocalProcess) -> None:
    """Make the component's volumes. A ConfigMap file edited since the last start (the routes,
    say) is written afresh from the chart, as `helm upgrade` does, but its edit is kept aside."""
    for folder in process.folders:
        folder.mkdir(parents=True, exist_ok=True)
    for path, text in process.files.items():
        if path.exists() and path.read_text(encoding="utf-8") != text:
            kept = run.root / "edited" / time.strftime("%Y%m%d-%H%M%S") / path.relative_to(run.root)
            kept.parent.mkdir(parents=True, exist_ok=True)
            path.replace(kept)
            say(f"    {path.name} differed from the chart's; your edit is kept in {kept}")
        path.write_text(text, encoding="utf-8")


def start(run: RunDir, process: pods.LocalProcess) -> Server:
    lay_out(run, process)
    return Server.start(
        process.name, process.cmd, process.env, run.log(process.name), process.port, run.record(process.name)
    )


def stop(run: RunDir, name: str, timeout_s: float = 30) -> bool:
    """Stop the component's process group; True if it was running."""
    server = run.running(name)
    run.record(name).unlink(missing_ok=True)
    if server is None:
        return False
    server.stop(timeout_s)
    return True


def wait_ready(run: RunDir, processes: list[pods.LocalProcess]) -> None:
    """Poll each component's readiness URL (its probe's path) until all answer, saying which are
    still starting every HEARTBEAT_S seconds; a component that exits stops the wait at once."""
    started = time.monotonic()
    next_note = started + HEARTBEAT_S
    pending = list(processes)
    while pending:
        elapsed = time.monotonic() - started
        for process in list(pending):
            log = run.log(process.name)
            if run.running(process.name) is None:
                raise StackError(f"{process.name} exited during start-up; last lines of {log}:\n{tail(log)}")
            if answers_ok(f"http://127.0.0.1:{process.port}{process.health_path}"):
                say(f"    {process.name} ready after {elapsed:.0f} s")
                pending.remove(process)
            elif elapsed > READY_TIMEOUT_S[process.name]:
                raise StackError(
                    f"{process.name} was not ready after {elapsed:.0f} s; see {log}:\n{tail(log)}"
                )
        if pending and time.monotonic() >= next_note:
            for process in pending:
                last_line = tail(run.log(process.name), 1)[:140]
                say(f"    ... {process.name} still starting ({elapsed:.0f} s): {last_line}")
            next_note += HEARTBEAT_S
        time.sleep(0.5)


def up(settings: Settings) -> dict[str, str]:
    run = RunDir(settings.run_dir)
    total = time.monotonic()
    names = (*COMPONENTS, *(OPTIONAL if settings.prometheus else ()))
    running = {name: server for name in names if (server := run.running(name))}
    for name, server in running.items():
        if server.port is not None and server.port != settings.ports[name]:
            say(f"==> {name} already runs on port {server.port}; `make down` first to move it")
            settings.ports[name] = server.port
    for name in names:
        if name not in running and not port_free(settings.ports[name]):
            raise StackError(
                f"port {settings.ports[name]} ({name}) is already in use by another program; "
                "stop it or pick another port, e.g. "
                f"`make up {PORT_VARIABLES[name]}={settings.ports[name] + 1}`"
            )
    for path in (settings.model_dir, settings.adapters_dir):
        if path and not path.is_dir():
            raise StackError(f"{path} is not a folder")
    objects = rendering(settings)
    model = model_dir(settings)
    secret_values = load_secrets(run, objects)
    processes = local_processes(settings, run, objects, secret_values, model)
    already = healthy(run, running, processes)
    for name in names:
        if name in already:
            say(f"==> {name}: already running (pid {already[name].pid})")
        else:
            start(run, processes[name])
            say(f"==> starting {name} on 127.0.0.1:{processes[name].port} (log: {run.log(name)})")
    starting = [processes[name] for name in names if name not in already]
    if starting:
        timed(
            f"waiting for {', '.join(p.name for p in starting)}"
            + (" (vLLM takes about a minute)" if "vllm" not in already else ""),
            lambda: wait_ready(run, starting),
        )
    admin = secret_values["open-webui-admin"]
    timed("Open WebUI admin account", lambda: ensure_admin(run, settings.ports["open-webui"], admin))
    env = {
        "OPEN_WEBUI_URL": f"http://127.0.0.1:{settings.ports['open-webui']}",
        "LITELLM_URL": f"http://127.0.0.1:{settings.ports['litellm']}",
        "LITELLM_MASTER_KEY": processes["litellm"].env["LITELLM_MASTER_KEY"],
        "VLLM_URL": f"http://127.0.0.1:{settings.ports['vllm']}",
        "OPEN_WEBUI_ADMIN_EMAIL": admin["email"],
        "OPEN_WEBUI_ADMIN_PASSWORD": admin["password"],
        "ROUTES_FILE": str(run.routes_file()),
    }
    if prometheus := run.running("prometheus"):
        env["PROMETHEUS_URL"] = f"http://127.0.0.1:{prometheus.port}"
    run.env_file.touch(mode=0o600)
    run.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    say(f"\nThe stack is up ({time.monotonic() - total:.0f} s).\n")
    say(summary(run, env))
    return env


def healthy(
    run: RunDir, running: dict[str, Server], processes: dict[str, pods.LocalProcess]
) -> dict[str, Server]:
    """The running components that answer their health check. A process that runs but does not
    answer (one shutting down after a stop, or hung) is stopped, so `up` starts it afresh."""
    answering = {}
    for name, server in running.items():
        url = f"http://127.0.0.1:{server.port}{processes[name].health_path}"
        if answers_ok(url):
            answering[name] = server
        else:
            say(f"==> {name}: its process (pid {server.pid}) does not answer {url}; starting it again")
            # It answers no one as it is: a short grace, then SIGKILL.
            stop(run, name, timeout_s=10)
    return answering


def ensure_admin(run: RunDir, port: int, admin: dict[str, str]) -> None:
    """Sign up the admin on a new Open WebUI (its first account is the admin), or check the login."""
    base = f"http://127.0.0.1:{port}/api/v1/auths"
    login = {"email": admin["email"], "password": admin["password"]}
    if httpx.post(f"{base}/signin", json=login, timeout=60).status_code == 200:
        return
    signup = httpx.post(f"{base}/signup", json={"name": "Admin", **login}, timeout=60)
    if signup.status_code != 200 or signup.json().get("role") != "admin":
        raise StackError(
            f"Open WebUI's data in {run.root / 'volumes'} has accounts this launcher did not make, "
            f"so it cannot create the admin ({signup.status_code}: {signup.text[:200]}). "
            "Run `make down`, delete that folder and run `make up` again."
        )


def summary(run: RunDir, env: dict[str, str]) -> str:
    return "\n".join(
        [
            f"  Chat:        {env['OPEN_WEBUI_URL']}  (pick nothing: the model `auto` is routed)",
            f"  Admin login: {env['OPEN_WEBUI_ADMIN_EMAIL']} / {env['OPEN_WEBUI_ADMIN_PASSWORD']}",
            f"  Proxy:       {env['LITELLM_URL']}/v1  key: {env['LITELLM_MASTER_KEY']}",
            f"  vLLM:        {env['VLLM_URL']}/v1",
            f"  Routes file: {env['ROUTES_FILE']}  (edit it: routing follows within a second)",
            *(
                [f"  Prometheus:  {env['PROMETHEUS_URL']}  (the chart's alerts: /alerts; docs/monitoring.md)"]
                if "PROMETHEUS_URL" in env
                else []
            ),
            "",
            "  Watch routing decisions:  make decisions",
            "  Edit the routes:          make edit-routes",
            f"  Everything above:         source {run.env_file}",
            "  Stop it all:              make down",
        ]
    )


def down(run_dir: Path) -> list[str]:
    run = RunDir(run_dir)
    stopped = [name for name in reversed((*COMPONENTS, *OPTIONAL)) if stop(run, name)]
    run.env_file.unlink(missing_ok=True)
    say(f"stopped: {', '.join(stopped)}" if stopped else "nothing of the local stack was running")
    return stopped


def status(run_dir: Path) -> bool:
    run = RunDir(run_dir)
    up_count = 0
    for name in COMPONENTS:
        server = run.running(name)
        up_count += server is not None
        state = f"running (pid {server.pid}, port {server.port})" if server else "not running"
        say(f"{name:11} {state}")
    for name in OPTIONAL:
        if server := run.running(name):
            say(f"{name:11} running (pid {server.pid}, port {server.port})")
    return up_count == len(COMPONENTS)


def follow_decisions(run_dir: Path) -> None:
    """Print the proxy's route_decision lines as they come (they never hold prompt text)."""
    log = RunDir(run_dir).log("litellm")
    if not log.exists():
        raise StackError(f"{log} does not exist: is the stack up (`make up`)?")
    with log.open(encoding="utf-8", errors="replace") as lines:
        while True:
            line = lines.readline()
            if not line:
                time.sleep(0.3)
            elif '"event": "route_decision"' in line:
                sys.stdout.write(line)
                sys.stdout.flush()
