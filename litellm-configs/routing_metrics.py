"""What the operator sees of routing: Prometheus metrics, and the structured log lines beside them.

The metrics live in the default registry, which LiteLLM's /metrics serves when its `prometheus`
callback is on (the proxy config does that); these series appear beside LiteLLM's own.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Histogram

from decision import Decision, Reason
from router_log import event

DECISIONS = Counter(
    "semantic_router_decisions_total",
    f"Requests for the virtual model, by the model chosen and why ({', '.join(Reason)}).",
    ["model", "reason"],
)
DECISION_SECONDS = Histogram(
    "semantic_router_decision_seconds",
    "Time to decide a route, embedding included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
RELOADS = Counter(
    "semantic_router_reloads_total",
    "Reloads of the routes file after it changed, by result (success, failure).",
    ["result"],
)
UNAVAILABLE_FALLBACKS = Counter(
    "semantic_router_unavailable_total",
    "Routed requests the chosen model could not answer (say, an adapter vLLM does not serve), "
    "answered by the fallback model instead.",
    ["model", "answered_by"],
)


def observe(decision: Decision, requested: str) -> None:
    """One routing decision: counted, timed, and logged as one line without the prompt."""
    DECISIONS.labels(model=decision.model, reason=str(decision.reason)).inc()
    DECISION_SECONDS.observe(decision.latency_ms / 1000.0)
    event(logging.INFO, "route_decision", requested=requested, **decision.log_fields())


def observe_unavailable(decision: Decision, answered_by: str) -> None:
    """The routed model could not answer and LiteLLM's fallback did."""
    UNAVAILABLE_FALLBACKS.labels(model=decision.model, answered_by=answered_by).inc()
    event(
        logging.WARNING,
        "route_unavailable",
        model=decision.model,
        answered_by=answered_by,
        hint=f"vLLM does not serve {decision.model}: see /v1/models and the vLLM log",
    )
