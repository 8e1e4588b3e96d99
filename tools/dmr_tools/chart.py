"""Render the Helm chart with the real helm binary that `make setup` installs."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import yaml

from dmr_tools.paths import CHART, CHART_VALUES, HELM, TOOLS

ROUTE_API = "route.openshift.io/v1/Route"
# The Prometheus Operator's kinds, which OpenShift serves (user-workload monitoring).
MONITORING_APIS = tuple(
    f"monitoring.coreos.com/v1/{kind}" for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule")
)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        raise RuntimeError(f"{HELM} is missing: run `make setup` first")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


def render(
    *values: str,
    sets: tuple[str, ...] = (),
    openshift: bool = True,
    show_only: str | None = None,
    namespace: str = "demo",
    monitoring: bool = False,
) -> list[dict[str, Any]]:
    """The objects `helm template` renders; values are file names in tests/chart-values (or paths).
    `openshift`: the cluster has the Route API; `monitoring`: it has the Prometheus Operator's."""
    args = ["template", "router", str(CHART), "--namespace", namespace]
    for name in values:
        args += ["-f", str(CHART_VALUES / name)]
    for item in sets:
        args += ["--set", item]
    if openshift:
        args += ["--api-versions", ROUTE_API]
    for api in MONITORING_APIS if monitoring else ():
        args += ["--api-versions", api]
    if show_only:
        args += ["--show-only", show_only]
    result = helm(*args)
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(*sets: str, set_json: tuple[str, ...] = ()) -> str:
    """helm template's error message for values that must be refused."""
    args = ["template", "router", str(CHART)]
    for item in sets:
        args += ["--set", item]
    for item in set_json:
        args += ["--set-json", item]
    result = helm(*args)
    assert result.returncode != 0, f"helm template accepted bad values {sets} {set_json}"
    return result.stderr


def find(objects: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, (
        f"expected one {kind} named *{suffix}, found {[o['metadata']['name'] for o in matches]}"
    )
    return matches[0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A container's environment variables by name, each with its `value` or `valueFrom`."""
    return {e["name"]: e for e in container.get("env", [])}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "Pod":
        return obj["spec"]
    return None


def crd_schemas() -> dict[str, Any]:
    return json.loads((TOOLS / "crd-schemas.json").read_text(encoding="utf-8"))


def chart_file(template: str, key: str, *values: str) -> str:
    """One data entry of a ConfigMap the chart renders, e.g. the proxy's config.yaml."""
    [configmap] = render(*values, show_only=f"templates/{template}")
    return configmap["data"][key]
