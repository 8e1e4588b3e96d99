"""The routing decision: chat messages in, target model out. No LiteLLM in here.

Only user turns are read. The latest one is embedded once and scored against every
route's utterances by a semantic-router IndexedRouter; a route that clears its threshold
wins, and when none does the base model answers.

Follow-ups: each earlier user turn (up to history_turns back) adds its route scores,
weighted by history_weight per turn back. A vague follow-up ("and what about for a 5
year old?") scores low everywhere, so the conversation's route carries it; a clear new
topic scores high on its own and wins. Earlier turns' scores are cached, so a follow-up
costs one embedding. A turn that announces a new topic ("Different question: ...", one of
topic_change_phrases) is routed on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from semantic_router import Route
from semantic_router.encoders import DenseEncoder
from semantic_router.routers import IndexedRouter

from decision import Decision, Reason
from offline_encoder import load_encoder
from route_config import RoutesConfig
from router_log import event

_SPACES = re.compile(r"\s+")
# Content parts with words in them: chat's `text`, the Responses API's `input_text`.
TEXT_PARTS = ("text", "input_text")


def clean_text(text: str, max_chars: int) -> str:
    """Bound and sanitise text for the encoder.

    Lone surrogates (from JSON like "\\ud800") make the tokenizer raise, and control
    characters carry no meaning, so both become spaces.
    """
    text = text[:max_chars]
    if not text.isprintable():
        text = "".join(
            " " if unicodedata.category(c) in ("Cc", "Cs", "Cf") and not c.isspace() else c for c in text
        )
    return _SPACES.sub(" ", text).strip()


def _content_text(content: Any, max_chars: int) -> str:
    """The text of a message's content: a string, or OpenAI content parts."""
    if isinstance(content, str):
        return content[:max_chars]
    if not isinstance(content, list):
        return ""
    pieces: list[str] = []
    size = 0
    for part in content:
        if isinstance(part, dict) and part.get("type") in TEXT_PARTS and isinstance(part.get("text"), str):
            piece = part["text"]
        elif isinstance(part, str):
            piece = part
        else:
            continue
        pieces.append(piece[: max_chars - size])
        size += len(pieces[-1]) + 1
        if size >= max_chars:
            break
    return "\n".join(pieces)


def user_turns(messages: Any, max_chars: int, limit: int) -> list[str]:
    """The texts of the last `limit` non-empty user turns, newest first."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        return []
    turns: list[str] = []
    for message in reversed(messages):
        if len(turns) >= limit:
            break
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        text = clean_text(_content_text(message.get("content"), max_chars), max_chars)
        if text:
            turns.append(text)
    return turns


def conversation_share(messages: Any, max_chars: int) -> float:
    """Where this conversation falls in [0, 1): a hash of its first user message, the same for
    every turn, so a canary's share picks whole conversations and each keeps its version."""
    turns = user_turns(list(reversed(messages)) if isinstance(messages, Sequence) else messages, max_chars, 1)
    digest = hashlib.sha256((turns[0] if turns else "").encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RouteDecider:
    """Decides where a chat request goes, for one validated routes configuration."""

    def __init__(self, config: RoutesConfig, encoder: DenseEncoder | None = None):
        self.config = config
        self.encoder = encoder if encoder is not None else load_encoder(config.encoder)
        self._model_of = {r.name: r.model for r in config.routes}
        self._canary_of = {r.name: r.canary for r in config.routes if r.canary is not None}
        self._threshold_of = {
            r.name: r.threshold if r.threshold is not None else config.threshold for r in config.routes
        }
        self.router = IndexedRouter(
            encoder=self.encoder,
            routes=[
                Route(
                    name=r.name,
                    utterances=list(r.utterances),
                    description=r.description,
                    confidence_threshold=r.threshold,
                )
                for r in config.routes
            ],
            top_k=config.top_k,
            aggregation=config.aggregation,  # type: ignore[arg-type]
            confidence_threshold=config.threshold,
        )
        phrases = "|".join(r"\s+".join(map(re.escape, p.split())) for p in config.topic_change_phrases)
        self._topic_change = re.compile(rf"\b(?:{phrases})\b", re.IGNORECASE) if phrases else None
        # Earlier turns of a conversation come back with every follow-up; remembering
        # their scores keeps a follow-up's cost at one embedding.
        self._recent: OrderedDict[str, dict[str, float]] = OrderedDict()

    async def _scores(self, text: str) -> dict[str, float]:
        """Every route's score for one text (0.0 for routes with no nearby utterance)."""
        cached = self._recent.get(text)
        if cached is not None:
            self._recent.move_to_end(text)
            return cached
        choices = await self.router.acall(text, limit=None, threshold=0.0)
        scores = {r: 0.0 for r in self._model_of}
        for choice in choices if isinstance(choices, list) else []:
            if choice.name in scores:
                scores[choice.name] = float(choice.confidence or 0.0)
        self._recent[text] = scores
        if len(self._recent) > 1024:
            self._recent.popitem(last=False)
        return scores

    async def adecide(self, messages: Any) -> Decision:
        """Where this conversation's next answer should come from. Never raises on bad input."""
        start = time.perf_counter()
        turns = user_turns(messages, self.config.max_chars, 1 + self.config.history_turns)
        if not turns:
            return self._decision(None, None, Reason.NO_TEXT, start)
        latest = await self._scores(turns[0])
        # A user who says the topic changed is believed: only the latest turn counts, however
        # strongly the conversation so far pulls elsewhere.
        new_topic = (
            len(turns) > 1 and self._topic_change is not None and bool(self._topic_change.search(turns[0]))
        )
        earlier_turns = [] if new_topic else turns[1:]
        # Earlier user turns add their scores, weighted by history_weight per turn back:
        # a vague follow-up keeps the conversation's route, while a clear new topic,
        # which scores high on its own, still wins.
        combined = dict(latest)
        weight = 1.0
        for earlier in earlier_turns:
            weight *= self.config.history_weight
            for route, score in (await self._scores(earlier)).items():
                combined[route] += weight * score
        route, *others = sorted(combined, key=combined.__getitem__, reverse=True)
        margin = combined[route] - combined[others[0]] if others else None
        own_best = max(latest, key=latest.__getitem__)
        if combined[route] < self._threshold_of[route]:
            return self._decision(None, combined[route], Reason.FALLBACK, start, margin)
        reason = Reason.TOPIC_CHANGE if new_topic else Reason.ROUTE if route == own_best else Reason.STICKY
        decision = self._decision(route, combined[route], reason, start, margin)
        canary = self._canary_of.get(route)
        if canary is not None and conversation_share(messages, self.config.max_chars) < canary.share:
            return replace(decision, model=canary.model)
        return decision

    def decide(self, messages: Any) -> Decision:
        """The synchronous form of adecide, for scripts and tests (not inside an event loop)."""
        return asyncio.run(self.adecide(messages))

    def _decision(
        self,
        route: str | None,
        score: float | None,
        reason: Reason,
        start: float,
        margin: float | None = None,
    ) -> Decision:
        model = self._model_of[route] if route is not None else self.config.default_model
        latency_ms = (time.perf_counter() - start) * 1000.0
        return Decision(model, route, score, reason, latency_ms, margin)


def served_only(
    decision: Decision,
    served: Collection[str] | None,
    config: RoutesConfig,
    unavailable: Collection[str] = (),
) -> Decision:
    """The decision, or the base model's if it names a model the proxy cannot serve now: one in
    `unavailable` (a runtime adapter being loaded, or broken), answered with reason unavailable
    and the wanted model kept; or one the proxy does not serve at all (routes the proxy started
    with: a reload refuses them), logged with what to fix. `served` None: unknown."""
    if served is None or decision.model in served:
        return decision
    model = config.default_model if config.default_model in served else config.virtual_model
    if decision.model in unavailable:
        return replace(decision, model=model, reason=Reason.UNAVAILABLE, wanted=decision.model)
    event(
        logging.ERROR,
        "route_model_not_served",
        model=decision.model,
        route=decision.route,
        hint="fix the routes file: this proxy serves " + ", ".join(sorted(served)),
    )
    # The virtual model itself is served by the base model, so it answers if the default does not.
    return Decision(model=model, route=None, score=decision.score, reason=Reason.ERROR)
