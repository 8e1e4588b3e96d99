"""The chart, rendered for this machine: which values files, which model folder, which secrets,
and each component of the rendering as a process to run (stack/pods.py says what is swapped)."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dmr_tools.chart import render
from dmr_tools.paths import BACKEND, CACHE, CHART, LITELLM_BIN, OPEN_WEBUI_BIN, VLLM_PYTHON
from dmr_tools.processes import base_env, tail

from . import pods, prometheus
from .console import StackError, say, timed
from .run_dir import RunDir

LOCAL_MODEL_VALUES = Path(__file__).with_name("local-smollm2.yaml")
LOCAL_MODEL_CACHE = CACHE / "local-model"
MAKE_LOCAL_MODEL = BACKEND / "make_local_model.py"
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
# The namespace the chart is rendered for; its Service host names become local URLs.
NAMESPACE = "local"


@dataclass
class Settings:
    run_dir: Path
    ports: dict[str, int]
    model_dir: Path | None = None
    adapters_dir: Path | None = None
    values: tuple[Path, ...] = ()
    # Start the chart's monitoring as a local Prometheus (its port is ports["prometheus"]).
    prometheus: bool = False


def values_files(settings: Settings) -> tuple[Path, ...]:
    """The made-up model comes with its own values (chat template, adapter ranks); real weights use
    the chart's defaults. Values files given by the person come last, as with `helm -f`."""
    own = () if settings.model_dir else (LOCAL_MODEL_VALUES,)
    return (*own, *settings.values)


def rendering(settings: Settings) -> pods.Objects:
    files = values_files(settings)
    return timed(
        f"rendering the chart (helm template{''.join(f' -f {f}' for f in files)})",
        # As on OpenShift: the monitoring API exists, so the monitors and alerts are rendered.
        lambda: render(
            *(str(f.resolve()) for f in files), openshift=False, namespace=NAMESPACE, monitoring=True
        ),
    )


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
    local_url = {component: f"http://127.0.0.1:{ports[component]}" for component in ("vllm", "litellm")}
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
    if settings.prometheus:
        key = processes["litellm"].env["LITELLM_MASTER_KEY"]
        processes[prometheus.NAME] = prometheus.local_process(
            objects, NAMESPACE, ports, key, run.component(prometheus.NAME)
        )
    return processes
