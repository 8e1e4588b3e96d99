"""The chart's monitoring against the live stack: a real Prometheus (`make up PROMETHEUS=1`) scrapes
the real proxy and vLLM while traffic of every route, an unavailable adapter, a refused routes
edit and a vLLM outage flow; then every dashboard query and every alert's series must be there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dmr_tools.chart import find, render
from dmr_tools.paths import DASHBOARD
from dmr_tools.processes import free_port, until
from dmr_tools.stack.launcher import stop
from dmr_tools.stack.rendering import NAMESPACE
from support.local_stack import current_ports, stack_up
from support.prompts import BY_MODEL, MATHS, user
from support.promql import Matcher, Prometheus, Selector, selectors

# Grafana's variables, as a person looking at the last minutes of the local stack would set them.
DASHBOARD_VARIABLES = {"$namespace": NAMESPACE, "$__rate_interval": "1m", "$__range": "10m"}
# Label values that exist only while the alert fires, so only the label is checked: requests for the
# virtual model that reach LiteLLM unrouted (the router rewrites every one it routes).
ONLY_WHEN_FIRING = {("litellm_proxy_total_requests_metric_total", "requested_model")}


def wait_for(prometheus: Prometheus, expr: str, what: str, timeout_s: float = 60) -> list[dict[str, Any]]:
    """The series `expr` returns once it returns any (Prometheus scrapes every 5 s here)."""
    return until(f"{what}: `{expr}` returning series", lambda: prometheus.query(expr), timeout_s)


@pytest.fixture(scope="module")
def rules() -> dict[str, str]:
    """Each alert's expression, as the local stack renders the chart (namespace `local`)."""
    rule = find(render(namespace=NAMESPACE, monitoring=True), "PrometheusRule")
    return {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]}


@pytest.fixture(scope="module")
def prometheus(stack) -> Iterator[Prometheus]:
    """`make up PROMETHEUS=1` on the running stack: only Prometheus starts."""
    run = stack.run
    started = stack_up(
        stack.run_dir, [*current_ports(run), "--prometheus", "--prometheus-port", str(free_port())]
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert "Prometheus:  http://127.0.0.1:" in started.stdout, "make up did not print Prometheus' URL"
    prometheus = Prometheus(run.env()["PROMETHEUS_URL"])
    until(
        "Prometheus scraping both the proxy and vLLM (see its /targets)",
        lambda: len(prometheus.query("up == 1")) >= 2,
    )
    yield prometheus
    stop(run, "prometheus")


@pytest.fixture(scope="module")
def traffic(stack, proxy, vllm, prometheus, rules) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Drive every situation an alert watches, and what each alert's expression returned in it."""
    fired: dict[str, list[dict[str, Any]]] = {}

    # An adapter vLLM stops serving: the route's requests are answered by the fallback.
    served = {m["id"]: m for m in httpx.get(f"{vllm.api_base}/models", timeout=30).json()["data"]}
    assert httpx.post(
        f"{vllm.api_base}/unload_lora_adapter", json={"lora_name": "dcot"}, timeout=30
    ).is_success
    try:
        assert proxy.chat(user(MATHS)).headers.get("x-semantic-route-unavailable") == "dcot"
        fired["RouterAdapterAnsweredByFallback"] = wait_for(
            prometheus, rules["RouterAdapterAnsweredByFallback"], "an adapter answered by the fallback"
        )
    finally:
        loaded = httpx.post(
            f"{vllm.api_base}/load_lora_adapter",
            json={"lora_name": "dcot", "lora_path": served["dcot"]["root"]},
            timeout=60,
        )
        assert loaded.is_success, loaded.text

    # A routes edit the router refuses; the next request makes it look at the file.
    try:
        proxy.routes_file.write_text("routes: [\n", encoding="utf-8")
        seen_by_the_router(proxy, "routes reload failed")
        fired["RouterRoutesReloadFailing"] = wait_for(
            prometheus, rules["RouterRoutesReloadFailing"], "a refused routes file"
        )
    finally:
        proxy.routes_file.write_text(proxy.routes_text, encoding="utf-8")
    seen_by_the_router(proxy, "routes reloaded")
    wait_for(prometheus, "max(semantic_router_routes_file_rejected) == 0", "the good routes taken back")

    # vLLM down: the proxy answers 503 and Prometheus cannot scrape vLLM.
    ports = current_ports(stack.run)
    stop(stack.run, "vllm")
    try:
        assert proxy.chat(user(MATHS)).status_code == 503
        fired["RouterModelServerUnavailable"] = wait_for(
            prometheus, rules["RouterModelServerUnavailable"], "vLLM down"
        )
    finally:
        restarted = stack_up(stack.run_dir, ports)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr

    # A candidate router shadowing the live one (it sends everything to the base model), then every
    # route, a direct call to an adapter, and a malformed request.
    candidate = {"name": "monitoring-check", "threshold": 100.0}
    routes = yaml.safe_load(proxy.routes_text) | {"candidate": candidate}
    proxy.routes_file.write_text(yaml.safe_dump(routes, sort_keys=False), encoding="utf-8")
    seen_by_the_router(proxy, "shadow decisions by candidate monitoring-check")
    for model, text in BY_MODEL.items():
        for _ in range(2):
            response = proxy.chat(user(text))
            assert response.status_code == 200 and response.headers["x-semantic-route"] == model, (
                response.text
            )
    assert proxy.chat(user(MATHS), model="doctor").status_code == 200
    assert proxy.chat([]).status_code == 400
    # Prometheus has scraped the proxy after the last request once it counts that refusal too.
    refused = proxy_sample(proxy, "semantic_router_requests_refused_total", check="malformed")
    wait_for(
        prometheus,
        f'sum(semantic_router_requests_refused_total{{check="malformed"}}) >= {refused}',
        "the last scrape",
    )
    fired["RouterShadowDisagreeing"] = wait_for(
        prometheus, rules["RouterShadowDisagreeing"], "a candidate disagreeing with the live router"
    )
    yield fired
    proxy.routes_file.write_text(proxy.routes_text, encoding="utf-8")


def seen_by_the_router(proxy, line: str) -> None:
    """Chat until the proxy's log holds one more `line` (the router looks at its file on requests)."""
    before = proxy.log.text().count(line)
    until(
        f"the router logged {line!r} for the routes edit",
        lambda: proxy.chat(user(MATHS)) is not None and proxy.log.text().count(line) > before,
        interval_s=1,
    )


def proxy_sample(proxy, name: str, **labels: str) -> float:
    """A sample's value on the proxy's own /metrics/ now."""
    value = proxy.sample(name, **labels)
    assert value is not None, f"no {name}{labels} on the proxy's /metrics/"
    return value


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    queries = []
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in DASHBOARD_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((panel["title"], expr))
    return queries


def checkable(selector: Selector) -> tuple[str, str]:
    """The selector to ask for, and what it proves: equality matchers as written (a misspelt value
    returns nothing); regex and negative ones, and ONLY_WHEN_FIRING, only that the label exists."""
    matchers = []
    for m in selector.matchers:
        exact = m.op == "=" and (selector.metric, m.label) not in ONLY_WHEN_FIRING
        matchers.append(m if exact else Matcher(m.label, "!=", ""))
    return selector.promql(tuple(matchers)), selector.promql()


def missing_selectors(prometheus: Prometheus, exprs: list[tuple[str, str]]) -> list[str]:
    missing = []
    for where, expr in exprs:
        for selector in selectors(expr):
            asked, written = checkable(selector)
            if not prometheus.query(asked):
                missing.append(f"{where}: {written} (asked {asked})")
    return missing


def test_prometheus_scrapes_the_proxy_and_vllm_as_the_chart_s_monitors_say(prometheus):
    targets = prometheus.get("targets")["activeTargets"]
    jobs = {t["labels"]["job"]: t["health"] for t in targets}
    vllm_job = f"{NAMESPACE}/router-dynamic-model-router-vllm"
    assert jobs == {"router-dynamic-model-router-litellm": "up", vllm_job: "up"}, jobs


def test_the_chart_s_alerts_load_and_evaluate_without_errors(prometheus, traffic, rules):
    loaded = {r["name"]: r for g in prometheus.get("rules")["groups"] for r in g["rules"]}
    assert set(loaded) == set(rules), f"Prometheus loaded {sorted(loaded)}, the chart has {sorted(rules)}"
    broken = {name: r.get("lastError") for name, r in loaded.items() if r["health"] != "ok"}
    assert not broken, f"rules failing to evaluate: {broken}"


def test_each_watched_fault_makes_its_alert_expression_return_series(traffic):
    unavailable = traffic["RouterAdapterAnsweredByFallback"]
    assert {s["metric"].get("model") for s in unavailable} == {"dcot"}, unavailable
    assert traffic["RouterRoutesReloadFailing"] and traffic["RouterModelServerUnavailable"]
    disagreeing = traffic["RouterShadowDisagreeing"]
    assert {s["metric"].get("candidate") for s in disagreeing} == {"monitoring-check"}, disagreeing


def test_every_series_an_alert_reads_exists(prometheus, traffic, rules):
    missing = missing_selectors(prometheus, list(rules.items()))
    assert not missing, "alert expressions read series Prometheus does not have:\n" + "\n".join(missing)


def test_every_dashboard_query_returns_series(prometheus, traffic):
    queries = dashboard_queries()
    empty = [f"{title}: {expr}" for title, expr in queries if not prometheus.query(expr)]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
    missing = missing_selectors(prometheus, queries)
    assert not missing, "dashboard queries read series Prometheus does not have:\n" + "\n".join(missing)


def test_decisions_of_all_three_routes_and_vllm_s_adapters_appear(prometheus, traffic):
    per_route = prometheus.query(
        'sum by (route) (increase(semantic_router_decisions_total{route!="none"}[5m])) > 0'
    )
    assert {s["metric"]["route"] for s in per_route} >= {"doctor", "dcot", "general"}, per_route
    for adapter in ("doctor", "dcot"):
        running = prometheus.query(
            f'vllm:lora_requests_info{{running_lora_adapters=~"(.*,)?{adapter}(,.*)?"}}'
        )
        assert running, f"vLLM never reported {adapter} running (vllm:lora_requests_info)"
    scores = prometheus.query('semantic_router_decision_score_count{route="doctor"} > 0')
    margins = prometheus.query('semantic_router_decision_margin_count{route="doctor"} > 0')
    assert scores and margins, "no confidence or margin observed for doctor"


def test_the_local_prometheus_config_holds_no_secret(stack, prometheus):
    config = (stack.run.component("prometheus") / "prometheus.yml").read_text(encoding="utf-8")
    assert stack.env["LITELLM_MASTER_KEY"] not in config, "the master key is written into prometheus.yml"
    [proxy_job] = [j for j in yaml.safe_load(config)["scrape_configs"] if "authorization" in j]
    key_file = Path(proxy_job["authorization"]["credentials_file"])
    assert key_file.stat().st_mode & 0o777 == 0o600, "the key file is readable by others"
