"""A routing decision and the reasons one can have. The lowest layer: imports nothing of ours.

Every reason a decision can carry is a member of `Reason`; the decider, the hook, the metrics'
help text and the docs (a test checks docs/operations.md) all take them from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    ROUTE = "route"
    STICKY = "sticky"
    TOPIC_CHANGE = "topic-change"
    CLOSE_CALL = "close-call"
    FALLBACK = "fallback"
    NO_TEXT = "no-text"
    ERROR = "error"
    UNAVAILABLE = "unavailable"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    Reason.ROUTE: "the latest user message matched the route on its own",
    Reason.STICKY: "a follow-up stayed on the conversation's route, carried by earlier turns",
    Reason.TOPIC_CHANGE: "the message announced a new topic, so it was routed on its own",
    Reason.CLOSE_CALL: "a route that puts recall first (miss_cost) won though another scored higher: "
    "the class head gave it at least 1 / (1 + miss_cost)",
    Reason.FALLBACK: "no route was confident enough: the base model answered",
    Reason.NO_TEXT: "the request had no user text to route on: the base model answered",
    Reason.ERROR: "routing failed, or the routes name a model the proxy does not serve: "
    "the base model answered",
    Reason.UNAVAILABLE: "the routed model failed (say, an adapter vLLM does not serve), or is a "
    "runtime adapter not loaded (broken, or not yet): the fallback model answered",
}

# Where the hook keeps the decision in a request's metadata, for the response hooks to read.
METADATA_KEY = "semantic_route"


@dataclass(frozen=True)
class Decision:
    model: str
    # The route that matched, or None when the base model answers by default.
    route: str | None
    # The winning route's confidence (or the best near-miss on a fallback).
    score: float | None
    reason: Reason
    latency_ms: float = 0.0
    # How far the best route's score is ahead of the runner-up's: how close the call was.
    margin: float | None = None
    # The model the route chose when another one answers instead (reason unavailable).
    wanted: str | None = None

    def to_metadata(self) -> dict[str, Any]:
        """A plain dict for the request's metadata (LiteLLM copies and logs metadata)."""
        return {**asdict(self), "reason": str(self.reason)}

    @classmethod
    def from_request(cls, data: Any) -> Decision | None:
        """The decision the pre-call hook recorded in this request, or None if it routed nothing."""
        metadata = data.get("metadata") if isinstance(data, dict) else None
        found = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        if not isinstance(found, dict):
            return None
        return cls(**{**found, "reason": Reason(found["reason"])})

    def log_fields(self) -> dict[str, Any]:
        """The decision as the proxy logs it: never the prompt (these are medical questions)."""
        return {
            "model": self.model,
            "route": self.route,
            "reason": str(self.reason),
            "score": None if self.score is None else round(self.score, 4),
            "margin": None if self.margin is None else round(self.margin, 4),
            "latency_ms": round(self.latency_ms, 2),
        }
