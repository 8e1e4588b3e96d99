"""What the operator sees of routing: Prometheus metrics, and the structured log lines beside them.

The metrics live in the default registry, which LiteLLM's /metrics serves when its `prometheus`
callback is on (the proxy config does that); these series appear beside LiteLLM's own. Labels
hold only bounded values: route and model names from the routes file, reasons, results; never a
prompt, a user or a key. The chart's dashboard and alerts (docs/monitoring.md) read these names.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram

from dynamic_model_router.decide.decision import Decision, Reason
from dynamic_model_router.log import event
from dynamic_model_router.routes_file import RoutesConfig

# The `route` label of a decision no route took (the base model answers by default).
NO_ROUTE = "none"

DECISIONS = Counter(
    "semantic_router_decisions_total",
    f"Requests for the virtual model, by route ({NO_ROUTE!r}: none took it), the model chosen "
    f"and why ({', '.join(Reason)}).",
    ["route", "model", "reason"],
)
SCORES = Histogram(
    "semantic_router_decision_score",
    "The best route's score per decision (a sum of its nearest utterances' similarities, plus "
    f"earlier turns'), by the route taken ({NO_ROUTE!r}: below every threshold).",
    ["route"],
    buckets=(0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0),
)
MARGINS = Histogram(
    "semantic_router_decision_margin",
    "How far the best route's score was ahead of the runner-up's, by the route taken: "
    "small margins are close calls; at most 0, a route that puts recall first (miss_cost) won one.",
    ["route"],
    buckets=(0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0),
)
DECISION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
DECISION_SECONDS = Histogram(
    "semantic_router_decision_seconds",
    "Time to decide a route, embedding included.",
    buckets=DECISION_BUCKETS,
)
RELOADS = Counter(
    "semantic_router_reloads_total",
    "Reloads of the routes file after it changed, by result (success, failure).",
    ["result"],
)
for _result in ("success", "failure"):
    RELOADS.labels(result=_result)
ROUTES_FILE_REJECTED = Gauge(
    "semantic_router_routes_file_rejected",
    "1 while the routes file on disk is one the last reload refused (the last good routes serve); "
    "0 otherwise.",
)
REQUESTS_REFUSED = Counter(
    "semantic_router_requests_refused_total",
    "Requests turned away before routing, by the check that refused them (a body too large or not "
    "an object, malformed messages, embeddings, an unknown field, a client's template, a wrong type, a "
    "value out of range, too many choices, structured output): docs/operations.md lists them.",
    ["check"],
)
MODEL_SERVER_UNAVAILABLE = Counter(
    "semantic_router_model_server_unavailable_total",
    "Requests answered 503 because the model server (vLLM) could not be reached.",
)
RUNTIME_ADAPTERS = Gauge(
    "semantic_router_runtime_adapter_loaded",
    "1 while a runtime adapter (a folder in the runtime adapters volume a route names) is loaded "
    "into vLLM and served; 0 after it was unloaded.",
    ["adapter"],
)
RUNTIME_ADAPTER_PROBLEMS = Counter(
    "semantic_router_runtime_adapter_problems_total",
    "Runtime adapters found unusable, by adapter and problem (bad-config, not-lora, rank-too-high, "
    "base-model-mismatch, no-weights, load-failed, missing); their routes go to the base model.",
    ["adapter", "problem"],
)
UNAVAILABLE_FALLBACKS = Counter(
    "semantic_router_unavailable_total",
    "Routed requests the chosen model could not answer (say, an adapter vLLM does not serve), "
    "answered by the fallback model instead.",
    ["model", "answered_by"],
)


def known_routes(config: RoutesConfig) -> None:
    """Start the series of every route at zero, so a dashboard and an alert see a route (and its
    fallback) before its first request rather than no data."""
    for route in config.routes:
        for model in route.models:
            DECISIONS.labels(route=route.name, model=model, reason=str(Reason.ROUTE))
            if route.recall_first:
                DECISIONS.labels(route=route.name, model=model, reason=str(Reason.CLOSE_CALL))
            UNAVAILABLE_FALLBACKS.labels(model=model, answered_by=config.default_model)
    DECISIONS.labels(route=NO_ROUTE, model=config.default_model, reason=str(Reason.FALLBACK))
    for name in [*(route.name for route in config.routes), NO_ROUTE]:
        SCORES.labels(route=name)
        MARGINS.labels(route=name)


def observe(decision: Decision, requested: str) -> None:
    """One routing decision: counted, timed, and logged as one line without the prompt."""
    route = decision.route or NO_ROUTE
    DECISIONS.labels(route=route, model=decision.model, reason=str(decision.reason)).inc()
    DECISION_SECONDS.observe(decision.latency_ms / 1000.0)
    if decision.score is not None:
        SCORES.labels(route=route).observe(decision.score)
    if decision.margin is not None:
        MARGINS.labels(route=route).observe(decision.margin)
    event(logging.INFO, "route_decision", requested=requested, **decision.log_fields())


def observe_unavailable(model: str, answered_by: str, hint: str | None = None) -> None:
    """The routed model could not answer (vLLM failed it, or it is a runtime adapter that is not
    loaded) and the base model did."""
    UNAVAILABLE_FALLBACKS.labels(model=model, answered_by=answered_by).inc()
    event(
        logging.WARNING,
        "route_unavailable",
        model=model,
        answered_by=answered_by,
        hint=hint or f"vLLM does not serve {model}: see /v1/models and the vLLM log",
    )


# Shadow decisions (runtime/shadow.py): a candidate router decides beside the live one.
SHADOW_DECISIONS = Counter(
    "semantic_router_shadow_decisions_total",
    "Routed requests the candidate router also decided, by candidate, the live route and the "
    f"candidate's ({NO_ROUTE!r}: no route), and whether the same model would answer (agree: yes, no).",
    ["candidate", "route", "candidate_route", "agree"],
)
SHADOW_SECONDS = Histogram(
    "semantic_router_shadow_decision_seconds",
    "The candidate's time to decide, embedding included (off the request's path).",
    ["candidate"],
    buckets=DECISION_BUCKETS,
)
SHADOW_DROPPED = Counter(
    "semantic_router_shadow_dropped_total",
    "Shadow decisions not made, by candidate and reason (busy: its queue was full; late: it waited "
    "too long; failed: the candidate raised).",
    ["candidate", "reason"],
)
CANDIDATE_ACTIVE = Gauge(
    "semantic_router_candidate_active",
    "1 while the candidate named by the label decides beside the live router (shadow on).",
    ["candidate"],
)
CANDIDATE_REJECTED = Gauge(
    "semantic_router_candidate_rejected",
    "1 while the routes file's candidate is refused (a log line says why); the live routes serve "
    "as ever. 0 otherwise.",
)
ENCODER_REJECTED = Counter(
    "semantic_router_encoder_rejected_total",
    "Encoders a routes file named that could not be used, by role (live, candidate) and problem "
    "(missing, sha256, unreadable, dimension, unknown-model); the last good one keeps serving.",
    ["role", "problem"],
)
REVIEW_ROWS = Counter(
    "semantic_router_review_sample_rows_total",
    "Disagreements written to the review sample, by candidate and result (written; full: the "
    "sample reached its size cap; failed: the volume refused the write).",
    ["candidate", "result"],
)


def known_pairs(candidate: str, live: RoutesConfig, shadow: RoutesConfig) -> None:
    """Start every (live route, candidate route) series at zero, so agreement and its alert see a
    rate from the candidate's first decisions (a series born between two scrapes shows none)."""
    live_models = {r.name: r.model for r in live.routes} | {NO_ROUTE: live.default_model}
    shadow_models = {r.name: r.model for r in shadow.routes} | {NO_ROUTE: shadow.default_model}
    for route, model in live_models.items():
        for candidate_route, candidate_model in shadow_models.items():
            SHADOW_DECISIONS.labels(
                candidate=candidate,
                route=route,
                candidate_route=candidate_route,
                agree="yes" if model == candidate_model else "no",
            )


def observe_shadow(candidate: str, live: Decision, shadow: Decision) -> None:
    """One shadow decision beside the live one: counted, timed and logged with both routes, never
    the prompt."""
    agree = "yes" if live.model == shadow.model else "no"
    SHADOW_DECISIONS.labels(
        candidate=candidate,
        route=live.route or NO_ROUTE,
        candidate_route=shadow.route or NO_ROUTE,
        agree=agree,
    ).inc()
    SHADOW_SECONDS.labels(candidate=candidate).observe(shadow.latency_ms / 1000.0)
    event(
        logging.INFO,
        "shadow_decision",
        candidate=candidate,
        agree=agree == "yes",
        route=live.route,
        model=live.model,
        candidate_route=shadow.route,
        candidate_model=shadow.model,
        candidate_reason=str(shadow.reason),
        candidate_latency_ms=round(shadow.latency_ms, 2),
    )
