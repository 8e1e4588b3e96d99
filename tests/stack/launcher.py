"""The local stack: vLLM, the LiteLLM proxy and Open WebUI, started from what the chart renders.

`make up` and the end-to-end tests both call `up` (through `python -m stack`), so what people run
is what is tested. Every process gets its own process group and a record (PID and start time)
under the run directory; `down` stops exactly those groups, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from chart import CHART, render
from servers import LITELLM_BIN, OPEN_WEBUI_BIN, ROOT, VLLM_PYTHON, base_env

from . import pods

LOCAL_MODEL_VALUES = ROOT / "tests" / "chart-values" / "local-smollm2.yaml"
LOCAL_MODEL_CACHE = ROOT / ".cache" / "local-model"
MAKE_LOCAL_MODEL = ROOT / "tests" / "backend" / "make_local_model.py"
ADMIN_EMAIL = "admin@example.com"
# Open WebUI's switches for a machine without internet (the cluster may have it; here nothing
# may be fetched): no model downloads, no update checks, no extra generation chores per chat.
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
# Start order; also the order of the port flags' names in messages.
COMPONENTS = ("vllm", "litellm", "open-webui")
PORT_VARIABLES = {"vllm": "VLLM_PORT", "litellm": "PROXY_PORT", "open-webui": "UI_PORT"}
READY_TIMEOUT_S = {"vllm": 600, "litellm": 300, "open-webui": 300}
HEARTBEAT_S = 15
# The namespace the chart is rendered for; its Service host names become local URLs.
NAMESPACE = "local"


class StackError(Exception):
    """A problem the person running the stack can fix; the message says how."""


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class Settings:
    run_dir: Path
    ports: dict[str, int]
    model_dir: Path | None = None
    adapters_dir: Path | None = None
    values: tuple[Path, ...] = ()


class RunDir:
    """Files of one local stack: logs, process records, secrets, and each component's folders."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.env_file = self.root / "env"
        self.secrets_file = self.root / "secrets.json"
        self.logs = self.root / "logs"
        self.pids = self.root / "pids"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def component(self, name: str) -> Path:
        return self.root / name

    def env(self) -> dict[str, str]:
        """The `KEY=value` lines of `.run/env`, as `up` wrote them."""
        lines = self.env_file.read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines)

    def routes_file(self) -> Path:
        return self.component("litellm") / "routes" / "routes.yaml"


# --- processes ---------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    fields = _stat(Path(f"/proc/{pid}"))
    return fields[19] if fields else None


def running(run: RunDir, name: str) -> dict[str, Any] | None:
    """The record of a component this launcher started, if that very process still runs."""
    record_file = run.pids / f"{name}.json"
    if not record_file.exists():
        return None
    record = json.loads(record_file.read_text(encoding="utf-8"))
    return record if _start_time(record["pid"]) == record["start_time"] else None


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


def start(run: RunDir, process: pods.LocalProcess) -> None:
    run.logs.mkdir(parents=True, exist_ok=True)
    run.pids.mkdir(parents=True, exist_ok=True)
    lay_out(run, process)
    with run.log(process.name).open("ab") as log:
        child = subprocess.Popen(
            process.cmd,
            env=process.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: `down` stops it with its children
        )
    record = {"pid": child.pid, "start_time": _start_time(child.pid), "port": process.port}
    (run.pids / f"{process.name}.json").write_text(json.dumps(record), encoding="utf-8")


def stop(run: RunDir, name: str, timeout_s: float = 30) -> bool:
    """Stop the component's process group; True if it was running."""
    record = running(run, name)
    (run.pids / f"{name}.json").unlink(missing_ok=True)
    if record is None:
        return False
    pid = record["pid"]
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while live_members(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if live_members(pid):
        os.killpg(pid, signal.SIGKILL)
        while live_members(pid):
            time.sleep(0.1)
    return True


def live_members(pgid: int) -> list[int]:
    """PIDs of the process group that still run (a zombie has exited; only its reaping is left)."""
    members = []
    for proc in Path("/proc").iterdir():
        fields = _stat(proc) if proc.name.isdigit() else None
        if fields and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(proc.name))
    return members


def _stat(proc: Path) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None if it is gone."""
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


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
            if running(run, process.name) is None:
                raise StackError(f"{process.name} exited during start-up; last lines of {log}:\n{tail(log)}")
            try:
                ready = httpx.get(f"http://127.0.0.1:{process.port}{process.health_path}", timeout=2)
            except httpx.HTTPError:
                ready = None
            if ready is not None and ready.status_code == 200:
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


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def timed(label: str, action: Callable[[], Any]) -> Any:
    say(f"==> {label}")
    started = time.monotonic()
    result = action()
    say(f"    done in {time.monotonic() - started:.1f} s")
    return result


# --- the rendering -----------------------------------------------------------------------------


def values_files(settings: Settings) -> tuple[Path, ...]:
    """The made-up model comes with its own values (chat template, adapter ranks); real weights use
    the chart's defaults. Values files given by the person come last, as with `helm -f`."""
    own = () if settings.model_dir else (LOCAL_MODEL_VALUES,)
    return (*own, *settings.values)


def adapters(files: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The adapters list in force: Helm replaces a list wholesale, so the last file that sets it wins."""
    result = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["adapters"]
    for path in files:
        result = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("adapters", result)
    return result


def local_model(adapter_list: list[dict[str, Any]]) -> Path:
    """SmolLM2 with the chart's adapters, made once into .cache/ and kept for the next start."""
    spec = [f"{a['name']}:{a.get('rank', 8)}" for a in adapter_list]
    # Made again when the adapters or the recipe change.
    made_for = {"adapters": spec, "recipe": hashlib.sha256(MAKE_LOCAL_MODEL.read_bytes()).hexdigest()}
    marker = LOCAL_MODEL_CACHE / "made-for.json"
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == made_for:
        say(f"==> model: {LOCAL_MODEL_CACHE} (SmolLM2-135M-Instruct, adapters {', '.join(spec)})")
        return LOCAL_MODEL_CACHE

    def make() -> None:
        shutil.rmtree(LOCAL_MODEL_CACHE, ignore_errors=True)
        LOCAL_MODEL_CACHE.mkdir(parents=True)
        log = LOCAL_MODEL_CACHE.parent / "local-model.log"
        with log.open("wb") as out:
            done = subprocess.run(
                [str(VLLM_PYTHON), str(MAKE_LOCAL_MODEL), str(LOCAL_MODEL_CACHE), *spec],
                env=base_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if done.returncode != 0:
            raise StackError(f"making the local model failed; last lines of {log}:\n{tail(log)}")
        marker.write_text(json.dumps(made_for), encoding="utf-8")

    timed(f"making SmolLM2-135M-Instruct with LoRA adapters {', '.join(spec)} (about 40 s, once)", make)
    return LOCAL_MODEL_CACHE


def model_dir(settings: Settings) -> Path:
    """The base model folder vLLM serves: the person's, or the local SmolLM2 (made if need be)."""
    if settings.model_dir:
        return settings.model_dir.resolve()
    return local_model(adapters(values_files(settings)))


def load_secrets(run: RunDir, objects: pods.Objects) -> dict[str, dict[str, str]]:
    """The chart's Secrets as it generated them on the first start, kept like its `lookup` keeps
    them on upgrade; and the Open WebUI admin's login. Readable by the owner only."""
    stored: dict[str, dict[str, str]] = {}
    if run.secrets_file.exists():
        stored = json.loads(run.secrets_file.read_text(encoding="utf-8"))
    merged = {**pods.chart_secrets(objects), **stored}
    merged.setdefault("open-webui-admin", {"email": ADMIN_EMAIL, "password": secrets.token_urlsafe(18)})
    run.root.mkdir(parents=True, exist_ok=True)
    run.secrets_file.touch(mode=0o600)
    run.secrets_file.write_text(json.dumps(merged, indent=2), encoding="utf-8")
    return merged


def local_processes(
    settings: Settings,
    run: RunDir,
    objects: pods.Objects,
    secret_values: dict[str, dict[str, str]],
    model: Path,
) -> dict[str, pods.LocalProcess]:
    ports = settings.ports
    vllm_url = f"http://127.0.0.1:{ports['vllm']}"
    proxy_url = f"http://127.0.0.1:{ports['litellm']}"
    local_url = {"vllm": vllm_url, "litellm": proxy_url}
    urls = {
        host: local_url[component]
        for service in objects
        if service["kind"] == "Service"
        and (component := service["metadata"]["labels"]["app.kubernetes.io/component"]) in local_url
        for host in pods.service_hosts(service["metadata"]["name"], NAMESPACE)
    }

    runtime = pods.find(objects, "ServingRuntime", "vllm")["spec"]
    [vllm] = runtime["containers"]
    paths, folders, files = pods.mount_volumes(objects, runtime, vllm, run.component("vllm"))
    paths[pods.KSERVE_MODEL_MOUNT] = model
    if settings.adapters_dir:
        paths[f"{pods.KSERVE_MODEL_MOUNT}/adapters"] = settings.adapters_dir
    if vllm["command"][0] != "python":
        raise StackError(
            f"the ServingRuntime runs {vllm['command'][0]!r}; the local stack runs vLLM with python"
        )
    processes = {
        "vllm": pods.LocalProcess(
            "vllm",
            [
                str(VLLM_PYTHON),
                *vllm["command"][1:],
                *pods.local_args(vllm["args"], ports["vllm"], paths, urls),
            ],
            base_env(**pods.container_env(vllm, secret_values, paths, urls)),
            ports["vllm"],
            vllm["readinessProbe"]["httpGet"]["path"],
            folders,
            files,
        )
    }
    for name, executable in (("litellm", [str(LITELLM_BIN)]), ("open-webui", [str(OPEN_WEBUI_BIN), "serve"])):
        pod = pods.find(objects, "Deployment", name)["spec"]["template"]["spec"]
        [container] = pod["containers"]
        paths, folders, files = pods.mount_volumes(objects, pod, container, run.component(name))
        env = pods.container_env(container, secret_values, paths, urls)
        if name == "open-webui":
            env.update(OPEN_WEBUI_OFFLINE)
        processes[name] = pods.LocalProcess(
            name,
            [*executable, *pods.local_args(container.get("args", []), ports[name], paths, urls)],
            base_env(**env),
            ports[name],
            container["readinessProbe"]["httpGet"]["path"],
            folders,
            files,
        )
    return processes


# --- up, down, status --------------------------------------------------------------------------


def up(settings: Settings) -> dict[str, str]:
    run = RunDir(settings.run_dir)
    total = time.monotonic()
    already = {name: record for name in COMPONENTS if (record := running(run, name))}
    for name, record in already.items():
        if record["port"] != settings.ports[name]:
            say(f"==> {name} already runs on port {record['port']}; `make down` first to move it")
            settings.ports[name] = record["port"]
    for name in COMPONENTS:
        if name not in already and not port_free(settings.ports[name]):
            raise StackError(
                f"port {settings.ports[name]} ({name}) is already in use by another program; "
                "stop it or pick another port, e.g. "
                f"`make up {PORT_VARIABLES[name]}={settings.ports[name] + 1}`"
            )
    for path in (settings.model_dir, settings.adapters_dir):
        if path and not path.is_dir():
            raise StackError(f"{path} is not a folder")
    files = values_files(settings)
    objects = timed(
        f"rendering the chart (helm template{''.join(f' -f {f}' for f in files)})",
        lambda: render(*(str(f.resolve()) for f in files), openshift=False, namespace=NAMESPACE),
    )
    model = model_dir(settings)
    secret_values = load_secrets(run, objects)
    processes = local_processes(settings, run, objects, secret_values, model)
    for name in COMPONENTS:
        if name in already:
            say(f"==> {name}: already running (pid {already[name]['pid']})")
        else:
            start(run, processes[name])
            say(f"==> starting {name} on 127.0.0.1:{processes[name].port} (log: {run.log(name)})")
    starting = [processes[name] for name in COMPONENTS if name not in already]
    if starting:
        timed(
            f"waiting for {', '.join(p.name for p in starting)} (vLLM takes about a minute)",
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
    run.env_file.touch(mode=0o600)
    run.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    say(f"\nThe stack is up ({time.monotonic() - total:.0f} s).\n")
    say(summary(run, env))
    return env


def ensure_admin(run: RunDir, port: int, admin: dict[str, str]) -> None:
    """Sign up the admin on a new Open WebUI (its first account is the admin), or check the login."""
    base = f"http://127.0.0.1:{port}/api/v1/auths"
    login = {"email": admin["email"], "password": admin["password"]}
    if httpx.post(f"{base}/signin", json=login, timeout=60).status_code == 200:
        return
    signup = httpx.post(f"{base}/signup", json={"name": "Admin", **login}, timeout=60)
    if signup.status_code != 200 or signup.json().get("role") != "admin":
        raise StackError(
            f"Open WebUI's data in {run.component('open-webui')} has accounts this launcher did not make, "
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
            "",
            "  Watch routing decisions:  make decisions",
            "  Edit the routes:          make edit-routes",
            f"  Everything above:         source {run.env_file}",
            "  Stop it all:              make down",
        ]
    )


def down(run_dir: Path) -> list[str]:
    run = RunDir(run_dir)
    stopped = [name for name in reversed(COMPONENTS) if stop(run, name)]
    run.env_file.unlink(missing_ok=True)
    say(f"stopped: {', '.join(stopped)}" if stopped else "nothing of the local stack was running")
    return stopped


def status(run_dir: Path) -> bool:
    run = RunDir(run_dir)
    up_count = 0
    for name in COMPONENTS:
        record = running(run, name)
        up_count += record is not None
        state = f"running (pid {record['pid']}, port {record['port']})" if record else "not running"
        say(f"{name:11} {state}")
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
