"""Prometheus metrics of the router, in the default registry that LiteLLM's /metrics serves.

LiteLLM mounts /metrics when its `prometheus` callback is on (the proxy config does
that); these series appear beside LiteLLM's own.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = Counter(
    "semantic_router_decisions_total",
    "Requests for the virtual model, by the model chosen and why "
    "(route, sticky, topic-change, fallback, no-text, error).",
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
