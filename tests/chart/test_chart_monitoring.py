"""Monitoring in the chart: monitors and alerts only where the Prometheus Operator's API exists, the
alerts checked and unit-tested by the real promtool, and the dashboard current and shipped."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dmr_tools.chart import find, render
from dmr_tools.paths import DASHBOARD, PROMTOOL, ROOT

HERE = Path(__file__).parent
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
RUNBOOK = ROOT / "docs" / "monitoring.md"


def rule_groups(*values: str) -> list[dict[str, Any]]:
    rule = find(render(*values, monitoring=True), "PrometheusRule")
    return rule["spec"]["groups"]


def alerts(*values: str) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rule_groups(*values) for r in group["rules"]}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.exists(), f"{PROMTOOL} is missing: run `make setup` (Debian's prometheus package)"
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=120)


def test_monitors_and_alerts_are_rendered_only_where_the_monitoring_api_exists():
    without = {o["kind"] for o in render()}
    assert not without & MONITORING_KINDS, f"rendered {without & MONITORING_KINDS} without the API"
    kinds = {o["kind"] for o in render(monitoring=True)}
    assert kinds >= MONITORING_KINDS, f"missing {MONITORING_KINDS - kinds} with the API"
    off = {o["kind"] for o in render(sets=("monitoring.enabled=false",), monitoring=True)}
    assert not off & MONITORING_KINDS, "monitoring.enabled=false still renders monitoring objects"
    no_alerts = {o["kind"] for o in render(sets=("monitoring.alerts.enabled=false",), monitoring=True)}
    assert no_alerts & MONITORING_KINDS == {"ServiceMonitor", "PodMonitor"}


def test_the_pod_monitor_scrapes_the_vllm_predictor_pods_on_the_serving_port():
    objects = render(monitoring=True)
    monitor = find(objects, "PodMonitor", "-vllm")
    runtime = find(objects, "ServingRuntime", "-vllm")
    [container] = runtime["spec"]["containers"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in [p["name"] for p in container["ports"]], "the monitor names no container port"
    assert endpoint["path"] == "/metrics"
    isvc = find(objects, "InferenceService", "-vllm")
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": isvc["metadata"]["name"]
    }


def test_the_service_monitor_scrapes_the_proxy_with_the_master_key():
    objects = render(monitoring=True)
    monitor = find(objects, "ServiceMonitor", "-litellm")
    [endpoint] = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics/")
    assert endpoint["authorization"]["credentials"]["key"] == "master-key"
    service = find(objects, "Service", "-litellm")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


@pytest.mark.parametrize("component", ["litellm", "vllm"])
def test_network_policies_let_in_only_the_monitoring_prometheus_pods_besides_the_callers(component: str):
    monitoring_peer = {
        "namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "openshift-user-workload-monitoring"}
        },
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    with_api = find(render(monitoring=True), "NetworkPolicy", f"-{component}")["spec"]["ingress"]
    without = find(render(), "NetworkPolicy", f"-{component}")["spec"]["ingress"]
    assert monitoring_peer in with_api[0]["from"], f"monitoring cannot reach {component}"
    assert monitoring_peer not in without[0]["from"], f"monitoring let into {component} without monitors"
    assert [p for p in with_api[0]["from"] if p != monitoring_peer] == without[0]["from"]
    for peer in with_api[0]["from"]:
        assert "podSelector" in peer, f"{component}: a peer lets in a whole namespace: {peer}"


def test_promtool_accepts_the_rendered_rules(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups()}), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, f"promtool check rules:\n{result.stdout}\n{result.stderr}"
    assert "SUCCESS: 8 rules found" in result.stdout, result.stdout


def test_every_alert_fires_on_synthetic_series_and_stays_silent_on_healthy_ones(tmp_path: Path):
    """promtool test rules over tests/chart/alert-tests.yaml (labels only: annotations are checked
    below, so a reworded description does not need the tests edited)."""
    groups = rule_groups()
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    shutil.copy(HERE / "alert-tests.yaml", tmp_path)
    result = promtool("test", "rules", str(tmp_path / "alert-tests.yaml"))
    assert result.returncode == 0, f"promtool test rules:\n{result.stdout}\n{result.stderr}"
    cases = yaml.safe_load((HERE / "alert-tests.yaml").read_text(encoding="utf-8"))["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    for name in alerts():
        fired = [c for c in checks if c["alertname"] == name and c["exp_alerts"]]
        silent = [c for c in checks if c["alertname"] == name and not c["exp_alerts"]]
        assert fired and silent, f"{name} needs a case that fires it and one that keeps it silent"


def test_every_alert_says_what_happened_what_to_do_and_where_its_runbook_is():
    runbook = RUNBOOK.read_text(encoding="utf-8")
    for name, rule in alerts().items():
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), f"{name} has no summary"
        assert f"docs/monitoring.md, section {name}" in annotations.get("description", ""), (
            f"{name}'s description does not point to its runbook section"
        )
        assert re.search(rf"^### {name}$", runbook, re.M), f"docs/monitoring.md has no section ### {name}"
        assert rule["labels"]["severity"] in ("warning", "critical"), f"{name}: severity"


def test_alert_thresholds_come_from_values(tmp_path: Path):
    values = {
        "monitoring": {
            "alerts": {
                "decisionLatencyP99Seconds": 0.75,
                "proxyErrorRatio": 0.2,
                "fallbackShareShift": 0.4,
                "fallbackShareMinDecisions": 500,
            }
        },
        "router": {"virtualModel": "router"},
    }
    (tmp_path / "tuned.yaml").write_text(yaml.safe_dump(values), encoding="utf-8")
    tuned = alerts(str(tmp_path / "tuned.yaml"))
    assert tuned["RouterDecisionLatencyHigh"]["expr"].endswith("> 0.75")
    assert "> 0.2" in tuned["RouterProxyErrors"]["expr"]
    assert ") > 0.4" in tuned["RouterFallbackShareShifted"]["expr"]
    assert ">= 500" in tuned["RouterFallbackShareShifted"]["expr"]
    assert 'requested_model="router"' in tuned["RouterNoDecisions"]["expr"]


def test_the_dashboard_file_is_what_its_generator_makes():
    result = subprocess.run(
        [sys.executable, "-m", "dmr_tools.generate.dashboard", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_dashboard_ships_in_a_configmap_grafana_picks_up():
    configmap = find(render(), "ConfigMap", "-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    [text] = configmap["data"].values()
    assert json.loads(text) == json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert not [
        o
        for o in render(sets=("monitoring.dashboard.enabled=false",))
        if o["metadata"]["name"].endswith("-dashboard")
    ]


def test_every_dashboard_panel_has_a_query_and_a_description():
    panels = [p for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"] if p["type"] != "row"]
    assert len(panels) >= 15, f"only {len(panels)} panels"
    for panel in panels:
        assert panel["description"], f"panel {panel['title']!r} has no description"
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), f"panel {panel['title']!r}"
        assert all('namespace="$namespace"' in t["expr"] for t in panel["targets"]), (
            f"panel {panel['title']!r} mixes namespaces"
        )
