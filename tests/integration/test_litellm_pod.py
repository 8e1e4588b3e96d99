"""The chart's LiteLLM Deployment, with its ConfigMaps and Secret exactly as rendered, played as a
real pod by `podman kube play` from the image `make images` builds, under OpenShift's
restricted-v2 conditions; then the chart's own `helm test` pod runs against it.

What is changed from the rendering, and why (nothing else is):
- the image: the locally built one (no registry can be reached here);
- VLLM_API_BASE: the local stack's vLLM (there is no KServe here);
- the pod gets the host's network, so the proxy listens on 127.0.0.1 and a free port (not on all
  interfaces, port 4000), and podman 4.3 then refuses declared `ports`, so probes name the number;
- what the restricted-v2 SCC adds at admission: an arbitrary UID from the namespace's range
  (1000650000 here) in group 0.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dmr_tools.chart import find, render
from dmr_tools.processes import until, wait_until_ok
from dmr_tools.stack import pods
from support.local_stack import free_ports
from support.podman import LITELLM_IMAGE, podman
from support.prompts import MEDICAL

pytestmark = pytest.mark.pods

OPENSHIFT_UID = 1000650000


@dataclass
class Pod:
    url: str
    key: str
    container: str
    routes_file: Path


def on_this_machine(container: dict[str, Any], port: int, vllm_api_base: str) -> None:
    """The container changes listed in the module docstring, made in place."""
    container["image"] = LITELLM_IMAGE
    container["args"] = pods.local_args(container["args"], port, {}, {})
    for item in container["env"]:
        if item["name"] == "VLLM_API_BASE":
            item["value"] = vllm_api_base
    container.pop("ports")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        container[probe]["httpGet"]["port"] = port


def restricted_v2(pod_spec: dict[str, Any]) -> None:
    pod_spec["securityContext"] |= {"runAsUser": OPENSHIFT_UID, "runAsGroup": 0}


def play(objects: list[dict[str, Any]], path: Path) -> None:
    path.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    # --replace: a pod a run cut short left behind would hold the name.
    podman("kube", "play", "--replace", "--network", "host", str(path), timeout_s=300)


def container_of(pod_name_prefix: str) -> str:
    names = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    [name] = [n for n in names if n.startswith(pod_name_prefix) and not n.endswith("-infra")]
    return name


@pytest.fixture(scope="module")
def litellm_pod(vllm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    objects = render()
    deployment = find(objects, "Deployment", "-litellm")
    pod_spec = deployment["spec"]["template"]["spec"]
    [container] = pod_spec["containers"]
    configmaps = [
        find(objects, "ConfigMap", v["configMap"]["name"]) for v in pod_spec["volumes"] if "configMap" in v
    ]
    secret = find(objects, "Secret", "-litellm")
    [port] = free_ports(1)
    on_this_machine(container, port, vllm.api_base)
    restricted_v2(pod_spec)
    workdir = tmp_path_factory.mktemp("litellm-pod")
    # podman reads a secretKeyRef from its own store: the Secret's data map, as JSON.
    (workdir / "secret.json").write_text(json.dumps(secret["data"]), encoding="utf-8")
    # A run cut short leaves its secret behind, and podman refuses to create one of the same name.
    podman("secret", "rm", secret["metadata"]["name"], check=False)
    podman("secret", "create", secret["metadata"]["name"], str(workdir / "secret.json"))
    manifest = workdir / "litellm.yaml"
    try:
        play([*configmaps, deployment], manifest)
        name = container_of(deployment["metadata"]["name"])
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + container["readinessProbe"]["httpGet"]["path"], name)
        [routes] = [
            m["Source"]
            for m in json.loads(podman("inspect", name).stdout)[0]["Mounts"]
            if m["Destination"] == "/etc/litellm/routes"
        ]
        key = base64.b64decode(secret["data"]["master-key"]).decode()
        yield Pod(url, key, name, Path(routes) / "routes.yaml")
    finally:
        podman("kube", "down", str(manifest), check=False)
        podman("secret", "rm", secret["metadata"]["name"], check=False)


def wait_ready(url: str, container: str, timeout_s: float = 180) -> None:
    def running() -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", container, check=False)
        return state.stdout.strip() == "true"

    def logs() -> str:
        found = podman("logs", container, check=False)
        return found.stdout[-3000:] + found.stderr

    wait_until_ok(url, running, timeout_s, "the LiteLLM pod", logs)


def chat(pod: Pod, text: str = MEDICAL) -> httpx.Response:
    return httpx.post(
        f"{pod.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {pod.key}"},
        json={"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 4},
        timeout=120,
    )


def test_the_pod_runs_as_an_arbitrary_uid_in_group_0_without_capabilities_on_a_read_only_root(litellm_pod):
    ids = podman("exec", litellm_pod.container, "sh", "-c", "id -u; id -g").stdout.split()
    assert ids == [str(OPENSHIFT_UID), "0"], ids
    status = podman("exec", litellm_pod.container, "sh", "-c", "grep Cap /proc/1/status").stdout
    assert re.search(r"CapEff:\s*0+\n", status), f"capabilities left: {status}"
    write = podman("exec", litellm_pod.container, "touch", "/opt/probe", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write


def test_the_pod_passes_its_own_probes(litellm_pod):
    deployment = find(render(), "Deployment", "-litellm")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        path = container[probe]["httpGet"]["path"]
        assert httpx.get(litellm_pod.url + path, timeout=10).status_code == 200, f"{probe} {path}"


def test_the_pod_starts_from_the_images_utterance_embeddings_without_embedding_any(litellm_pod):
    # The folders the running proxy was given: the image's seed, and the chart's writable cache.
    seed, cache = (
        podman("exec", litellm_pod.container, "printenv", name).stdout.strip()
        for name in ("SEMANTIC_ROUTER_CACHE_SEED", "SEMANTIC_ROUTER_CACHE_DIR")
    )
    seeded = podman("exec", litellm_pod.container, "ls", seed).stdout.split()
    assert len(seeded) == 1 and seeded[0].endswith(".npz"), f"the image holds no embeddings: {seeded}"
    # The writable cache folder appears only when the proxy had to embed something itself.
    written = podman("exec", litellm_pod.container, "find", cache, "-type", "f", check=False)
    never_made = written.returncode != 0 and "No such file" in written.stderr
    assert never_made or (written.returncode == 0 and not written.stdout.split()), (
        f"the pod embedded utterances the image had ({cache}): {written.stdout}{written.stderr}"
    )


def test_the_pod_routes_a_medical_question_to_doctor(litellm_pod, vllm):
    offset = len(vllm.log.text())
    response = chat(litellm_pod)
    assert response.status_code == 200, response.text
    assert response.headers["x-semantic-route"] == "doctor"
    request_id = response.json()["id"].removeprefix("chatcmpl-")
    served = [model for line, model in vllm.served(since=offset) if request_id in line]
    assert served == ["doctor"], f"vLLM served {served} for the pod's request"


def test_the_pod_answers_401_without_the_key(litellm_pod):
    response = httpx.post(
        f"{litellm_pod.url}/v1/chat/completions", json={"model": "auto", "messages": []}, timeout=30
    )
    assert response.status_code == 401, response.text


def wait_for_route(pod: Pod, expected: str) -> None:
    until(
        f"routing became {expected}",
        lambda: chat(pod).headers.get("x-semantic-route") == expected,
        interval_s=1,
    )


def test_the_pod_picks_up_an_edit_of_its_mounted_routes_configmap(litellm_pod):
    original = litellm_pod.routes_file.read_text(encoding="utf-8")
    litellm_pod.routes_file.write_text(original.replace("model: doctor", "model: dcot"), encoding="utf-8")
    try:
        wait_for_route(litellm_pod, "dcot")
    finally:
        litellm_pod.routes_file.write_text(original, encoding="utf-8")
        wait_for_route(litellm_pod, "doctor")


def test_the_charts_helm_test_pod_passes_against_the_pod(litellm_pod, tmp_path: Path):
    test_pod = find(render(), "Pod", "-test-routing")
    [container] = test_pod["spec"]["containers"]
    container["image"] = LITELLM_IMAGE
    for item in container["env"]:
        if item["name"] == "URL":
            item["value"] = f"{litellm_pod.url}/v1/chat/completions"
    restricted_v2(test_pod["spec"])
    manifest = tmp_path / "helm-test.yaml"
    try:
        play([test_pod], manifest)
        name = container_of(test_pod["metadata"]["name"])
        exit_code = podman("wait", name, timeout_s=300).stdout.strip()
        logs = podman("logs", name).stdout
        assert exit_code == "0", f"helm test pod exited {exit_code}:\n{logs}"
        for route, model in (("doctor", "doctor"), ("dcot", "dcot"), ("general", "phi2")):
            assert f"route {route}: routed to {model}, expected {model}" in logs, logs
    finally:
        podman("kube", "down", str(manifest), check=False)
