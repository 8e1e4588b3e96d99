"""What every decision signal is: an object with one method that says, for one request, how much
each route is worth (and, rarely, more: signals it silences, models that answer instead)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.routes_file import RoutesConfig

# Every route's score for one text (the decider's cached utterance vote over the routes).
TextScores = Callable[[str], Awaitable[dict[str, float]]]
# Every route's probability for one text, from the encoder's class head.
TextProbabilities = Callable[[str], Awaitable[dict[str, float]]]


@dataclass(frozen=True)
class Lookups:
    """What the decider offers every signal of one routes file."""

    scores: TextScores
    # The class head's probabilities, and the weight they count with (None, 0: no head).
    head: TextProbabilities | None = None
    head_weight: float = 0.0


@dataclass(frozen=True)
class Conversation:
    """What the signals read of one request."""

    # Its user turns, newest first: the latest, then up to history_turns earlier ones.
    turns: tuple[str, ...]
    # The request's messages as sent, for signals that need more than the latest turns.
    messages: Any


@dataclass(frozen=True)
class Evidence:
    """What one signal says about one request."""

    # Added to each route's total; the combiner picks the highest total.
    scores: Mapping[str, float] = field(default_factory=dict)
    # Names of the signals that come after this one and must not count for this request.
    silences: frozenset[str] = frozenset()
    # Route name -> the model that answers the route instead of its own (a canary's).
    models: Mapping[str, str] = field(default_factory=dict)
    # The reason the decision carries when this signal's say decided it (see the combiner).
    reason: Reason | None = None
    # Each route's probability, from a signal that knows one (the class head): routes that put
    # recall first (miss_cost) read it.
    probabilities: Mapping[str, float] = field(default_factory=dict)


class Signal(Protocol):
    """One source of evidence. Signals run in their registration order (signals/__init__.py)."""

    name: ClassVar[str]

    async def evidence(self, conversation: Conversation) -> Evidence: ...


class SignalFactory(Protocol):
    """How a signal is registered: built for one routes file, or None when that file turns it off."""

    def __call__(self, config: RoutesConfig, lookups: Lookups) -> Signal | None: ...
