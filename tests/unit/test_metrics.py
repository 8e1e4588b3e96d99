"""The router's Prometheus series: what the chart's dashboard and alerts read (docs/monitoring.md)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
from prometheus_client import REGISTRY

from custom_router import proxy_handler_instance
from dynamic_model_router.decide.class_head import HEAD_FILE
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import Decision, Reason
from dynamic_model_router.encoding.encoder import SHIPPED_ENCODER
from dynamic_model_router.observe import metrics
from dynamic_model_router.request.guards import proxy_guard_instance
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, load_routes
from dynamic_model_router.runtime.live_routes import LiveRoutes
from support.prompts import MEDICAL, user


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    assert value is not None, f"no series {name}{labels} on /metrics"
    return value


def route_decision(text: str) -> Decision:
    data = {"model": "auto", "messages": user(text)}
    asyncio.run(proxy_handler_instance.async_pre_call_hook(None, None, data, "completion"))
    return Decision.from_request(data)  # type: ignore[return-value]


def test_a_decision_is_counted_by_route_model_and_reason_with_its_score_and_margin():
    before = {
        "decisions": sample(
            "semantic_router_decisions_total", route="doctor", model="doctor", reason="route"
        ),
        "scores": sample("semantic_router_decision_score_count", route="doctor"),
        "margins": sample("semantic_router_decision_margin_count", route="doctor"),
        "score_sum": sample("semantic_router_decision_score_sum", route="doctor"),
    }
    decision = route_decision(MEDICAL)
    assert (decision.route, decision.reason) == ("doctor", Reason.ROUTE), f"unexpected decision {decision}"
    assert decision.margin is not None and 0 < decision.margin <= decision.score  # type: ignore[operator]
    after = sample("semantic_router_decisions_total", route="doctor", model="doctor", reason="route")
    assert after == before["decisions"] + 1, "the decision was not counted under its route"
    assert sample("semantic_router_decision_score_count", route="doctor") == before["scores"] + 1
    assert sample("semantic_router_decision_margin_count", route="doctor") == before["margins"] + 1
    added = sample("semantic_router_decision_score_sum", route="doctor") - before["score_sum"]
    assert abs(added - decision.score) < 1e-9, "the histogram holds another score than the decision's"  # type: ignore[operator]


def test_a_decision_no_route_took_is_counted_under_route_none():
    before = sample("semantic_router_decisions_total", route="none", model="phi2", reason="fallback")
    scores = sample("semantic_router_decision_score_count", route="none")
    metrics.observe(Decision("phi2", None, 0.3, Reason.FALLBACK, 1.0, 0.1), "auto")
    after = sample("semantic_router_decisions_total", route="none", model="phi2", reason="fallback")
    assert after == before + 1, "a fallback was not counted under route 'none'"
    assert sample("semantic_router_decision_score_count", route="none") == scores + 1


def test_a_close_call_won_by_a_recall_first_route_lands_in_the_margins_zero_bucket():
    def at_most_zero() -> float:
        return sample("semantic_router_decision_margin_bucket", route="doctor", le="0.0")

    before, clear = (
        at_most_zero(),
        sample("semantic_router_decision_margin_bucket", route="doctor", le="0.05"),
    )
    metrics.observe(Decision("doctor", "doctor", 1.6, Reason.CLOSE_CALL, 1.0, -0.4), "auto")
    assert at_most_zero() == before + 1, "a negative margin (miss_cost won the call) was not in le=0.0"
    metrics.observe(Decision("doctor", "doctor", 2.0, Reason.ROUTE, 1.0, 0.03), "auto")
    assert at_most_zero() == before + 1, "a small positive margin was counted as a recall-first win"
    assert sample("semantic_router_decision_margin_bucket", route="doctor", le="0.05") == clear + 2


def test_the_margin_is_the_lead_of_the_best_route_over_the_runner_up():
    config = load_routes(DEFAULT_ROUTES_FILE)
    decider = RouteDecider(config)
    decision = decider.decide(user(MEDICAL))
    # Worked out apart from the decider: the top_k utterances nearest the message, their cosine
    # similarities summed per route (aggregation `sum`), plus the class head's softmax probability
    # times its weight (head.json read here, not through the decider), best minus runner-up.
    assert config.aggregation == "sum", "this check is written for the default aggregation"
    named = [(r.name, u) for r in config.routes for u in r.utterances]
    vectors = np.array(decider.encoder.encode_documents([u for _, u in named]))
    query = np.array(decider.encoder([MEDICAL])[0])
    similarity = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    totals = dict.fromkeys((r.name for r in config.routes), 0.0)
    for i in np.argsort(-similarity)[: config.top_k]:
        totals[named[i][0]] += float(similarity[i])
    head = json.loads((SHIPPED_ENCODER / HEAD_FILE).read_text(encoding="utf-8"))
    logits = np.array(head["weights"]) @ (query / np.linalg.norm(query)) + np.array(head["bias"])
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    for name, p in zip(head["classes"], probabilities, strict=True):
        if name in totals:
            totals[name] += head["weight"] * float(p)
    best, runner_up = sorted(totals.values(), reverse=True)[:2]
    assert decision.margin is not None and abs(decision.margin - (best - runner_up)) < 1e-4, (
        f"margin {decision.margin} is not {best} - {runner_up}"
    )


def test_every_route_has_zero_series_before_its_first_request(tmp_path: Path):
    routes = tmp_path / "routes.yaml"
    text = DEFAULT_ROUTES_FILE.read_text(encoding="utf-8").replace("- name: doctor", "- name: medic", 1)
    routes.write_text(text, encoding="utf-8")
    LiveRoutes(routes)
    assert sample("semantic_router_decisions_total", route="medic", model="doctor", reason="route") == 0
    # The default doctor route puts recall first: its close calls are counted from zero too.
    assert sample("semantic_router_decisions_total", route="medic", model="doctor", reason="close-call") == 0
    # sample() fails when a series is missing: these exist from the routes' loading on.
    sample("semantic_router_unavailable_total", model="doctor", answered_by="phi2")
    assert sample("semantic_router_decision_score_count", route="medic") == 0
    assert sample("semantic_router_decision_margin_count", route="medic") == 0
    sample("semantic_router_reloads_total", result="failure")


def test_a_refused_routes_file_is_flagged_until_a_good_one_is_loaded(tmp_path: Path):
    routes = tmp_path / "routes.yaml"
    shutil.copyfile(DEFAULT_ROUTES_FILE, routes)
    live = LiveRoutes(routes)
    good = routes.read_text(encoding="utf-8")
    routes.write_text("routes: [\n", encoding="utf-8")
    assert not live.reload()
    assert sample("semantic_router_routes_file_rejected") == 1, "a refused file is not flagged"
    routes.write_text(good, encoding="utf-8")
    assert live.reload()
    assert sample("semantic_router_routes_file_rejected") == 0, "the flag stayed after a good reload"


def test_an_unreachable_model_server_is_counted():
    before = sample("semantic_router_model_server_unavailable_total")
    refused = RuntimeError("litellm.InternalServerError: Cannot connect to host 127.0.0.1:8000")
    asyncio.run(proxy_guard_instance.async_post_call_failure_hook({}, refused, None))
    assert sample("semantic_router_model_server_unavailable_total") == before + 1


def test_metric_labels_hold_no_prompt_text():
    route_decision(MEDICAL)
    for metric in REGISTRY.collect():
        for found in metric.samples:
            assert MEDICAL not in found.labels.values(), f"{found.name} carries the prompt"
    assert {"route", "model", "reason"} == set(metrics.DECISIONS._labelnames)
