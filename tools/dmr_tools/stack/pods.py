"""Turn a container the chart renders into a process on this machine, changing only what must change.

The local stack runs each container's own arguments and environment as `helm template` renders
them. What is swapped, and nothing else (docs/local-stack.md lists the same):
- the executable: the image's entrypoint becomes the same program from the project's venvs;
- mounted volumes become folders under the run directory (ConfigMaps written out key by key,
  emptyDirs as empty folders, each PVC one folder in volumes/ shared by the containers that mount
  it), and KServe's model mount /mnt/models the model folder;
  every path under a mount point in the arguments and environment follows it;
- in-cluster Service URLs become the local servers' URLs;
- Secrets are read from the run directory's secrets (generated from the chart's own Secrets);
- the listen address becomes 127.0.0.1 and the container port the local port;
- vLLM's GPU memory fraction becomes a CPU KV-cache size (there is no GPU memory to take a share of).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Objects = list[dict[str, Any]]

# Where KServe mounts the InferenceService's storageUri in the predictor container.
KSERVE_MODEL_MOUNT = "/mnt/models"
# vLLM's CPU build sizes its KV cache in bytes; 256 MiB fits SmolLM2 at 2048 tokens with room.
CPU_KV_CACHE_BYTES = 268435456


@dataclass
class LocalProcess:
    """One component as a process: what to run, with which environment, answering on which port,
    and the folders and files (its volumes) to lay out before it starts."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    health_path: str
    folders: list[Path] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)


def find(objects: Objects, kind: str, component: str) -> dict[str, Any]:
    """The one object of `kind` with the chart's `app.kubernetes.io/component` label."""
    matches = [
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
    ]
    if len(matches) != 1:
        raise ValueError(f"the chart rendered {len(matches)} {kind} objects for {component}, expected one")
    return matches[0]


def configmap_data(objects: Objects, name: str) -> dict[str, str]:
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == name:
            return obj.get("data", {})
    raise ValueError(f"the chart rendered no ConfigMap {name}")


def chart_secrets(objects: Objects) -> dict[str, dict[str, str]]:
    """Every Secret the chart renders, decoded: {secret name: {key: value}}."""
    return {
        obj["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()}
        for obj in objects
        if obj["kind"] == "Secret"
    }


def mount_volumes(
    objects: Objects, pod_spec: dict[str, Any], container: dict[str, Any], root: Path
) -> tuple[dict[str, Path], list[Path], dict[Path, str]]:
    """Each of the container's volumes as a folder under `root`: ({mount path: folder}, the
    folders, and the files the ConfigMap volumes hold, written as the kubelet would). A PVC is one
    folder beside the components' (root's parent / volumes / claim), shared by every container
    that mounts it, as the volume is."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    paths: dict[str, Path] = {}
    files: dict[Path, str] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        folder = root / mount["name"]
        if "persistentVolumeClaim" in volume:
            folder = root.parent / "volumes" / volume["persistentVolumeClaim"]["claimName"]
        if "configMap" in volume:
            for key, text in configmap_data(objects, volume["configMap"]["name"]).items():
                files[folder / key] = text
        elif not ("emptyDir" in volume or "persistentVolumeClaim" in volume):
            raise ValueError(f"volume {mount['name']}: only ConfigMap, emptyDir and PVC volumes run locally")
        paths[mount["mountPath"]] = folder
    return paths, list(paths.values()), files


def service_hosts(name: str, namespace: str) -> tuple[str, ...]:
    """The names a Service answers to in cluster DNS, from inside its namespace."""
    return (name, f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local")


def localize(text: str, paths: dict[str, Path], urls: dict[str, str]) -> str:
    """`text` with mount paths replaced by local folders and Service URLs by local URLs."""
    if paths:
        # One pass, longest mount first: /mnt/models/adapters wins over /mnt/models, and a local
        # folder that happens to start with another mount path (/tmp/...) is not swapped again.
        mounts = "|".join(re.escape(m) for m in sorted(paths, key=len, reverse=True))
        text = re.sub(rf"(^|=)({mounts})(?=/|$)", lambda m: m[1] + str(paths[m[2]]), text)
    for host, local in urls.items():
        text = re.sub(rf"https?://{re.escape(host)}(:\d+)?(?=/|$)", local, text)
    return text


def container_env(
    container: dict[str, Any],
    secrets: dict[str, dict[str, str]],
    paths: dict[str, Path],
    urls: dict[str, str],
) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = localize(str(item["value"]), paths, urls)
            continue
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            raise ValueError(f"env {item['name']}: only values and secretKeyRefs run locally")
        try:
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
        except KeyError:
            raise ValueError(
                f"env {item['name']}: Secret {ref['name']} has no key {ref['key']!r} locally"
            ) from None
    return env


def local_args(args: list[str], port: int, paths: dict[str, Path], urls: dict[str, str]) -> list[str]:
    """The container's arguments with the listen address, port and GPU memory share swapped."""
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        flag, has_value, value = arg.partition("=")
        if flag in ("--host", "--port"):
            if not has_value:
                next(rest)
            continue
        if flag == "--gpu-memory-utilization":
            if not has_value:
                next(rest)
            out.append(f"--kv-cache-memory-bytes={CPU_KV_CACHE_BYTES}")
            continue
        out.append(localize(arg, paths, urls))
    return [*out, "--host=127.0.0.1", f"--port={port}"]
