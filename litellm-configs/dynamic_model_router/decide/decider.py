"""The routing decision for one routes file: chat messages in, target model out. No LiteLLM in here.

Only user turns are read (conversation.py). The latest one is embedded once and scored against
every route's utterances by a semantic-router IndexedRouter; earlier turns' scores are cached, so a
follow-up costs one embedding. The signals (signals/: the utterance vote, topic-change phrases, the
conversation's history, a canary split) each give their evidence, and the combiner turns it into a
decision: a route that clears its threshold wins, and when none does the base model answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from semantic_router import Route
from semantic_router.encoders import DenseEncoder
from semantic_router.encoders.base import AsymmetricDenseMixin
from semantic_router.routers import IndexedRouter

from dynamic_model_router.decide.class_head import ClassHead, Edit, load_head, usable_head
from dynamic_model_router.decide.combiner import combine
from dynamic_model_router.decide.conversation import user_turns
from dynamic_model_router.decide.decision import Decision, Reason
from dynamic_model_router.decide.signals import SIGNALS
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups, Signal
from dynamic_model_router.decide.utterance_index import UtteranceIndex
from dynamic_model_router.encoding.encoder import load_encoder
from dynamic_model_router.log import event
from dynamic_model_router.routes_file import RoutesConfig


class RouteDecider:
    """Decides where a chat request goes, for one validated routes configuration."""

    def __init__(
        self, config: RoutesConfig, encoder: DenseEncoder | None = None, head: ClassHead | None = None
    ):
        """`head`: the class head; by default the one beside the encoder's model, if any."""
        self.config = config
        self.encoder = encoder if encoder is not None else load_encoder(config.encoder)
        sha256 = str(getattr(self.encoder, "model_sha256", ""))
        if head is None and sha256:
            head = load_head(Path(self.encoder.model_path), sha256)  # type: ignore[attr-defined]
        weight = (
            config.class_head_weight if config.class_head_weight is not None else (head.weight if head else 0)
        )
        usable = usable_head(head, config) if weight else None
        self.head: ClassHead | None = usable[0] if usable else None
        # The routes' edit since the head was fitted: the messages it touches are decided without it.
        self._edit = usable[1] if usable else Edit({}, {})
        self.head_weight = float(weight) if self.head else 0.0
        self._model_of = {r.name: r.model for r in config.routes}
        self._threshold_of = {
            r.name: r.threshold if r.threshold is not None else config.threshold for r in config.routes
        }
        self._miss_cost = {r.name: r.miss_cost for r in config.routes if r.recall_first}
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
            index=UtteranceIndex(),
            top_k=config.top_k,
            aggregation=config.aggregation,  # type: ignore[arg-type]
            confidence_threshold=config.threshold,
        )
        self._removed = self._unit_vectors(
            sorted({t for found in self._edit.removed.values() for t in found})
        )
        lookups = Lookups(self.scores_of, self.head_of if self.head else None, self.head_weight)
        self.signals: tuple[Signal, ...] = tuple(
            signal for make in SIGNALS if (signal := make(config, lookups)) is not None
        )
        # Earlier turns of a conversation come back with every follow-up; remembering
        # their scores keeps a follow-up's cost at one embedding.
        self._recent: OrderedDict[str, dict[str, float]] = OrderedDict()

    async def scores_of(self, text: str) -> dict[str, float]:
        """Every route's score for one text (0.0 for routes with no nearby utterance)."""
        cached = self._recent.get(text)
        if cached is not None:
            self._recent.move_to_end(text)
            return cached
        choices = await self.router.acall(text, limit=None, threshold=0.0)
        scores = dict.fromkeys(self._model_of, 0.0)
        for choice in choices if isinstance(choices, list) else []:
            if choice.name in scores:
                scores[choice.name] = float(choice.confidence or 0.0)
        self._recent[text] = scores
        if len(self._recent) > 1024:
            self._recent.popitem(last=False)
        return scores

    async def head_of(self, text: str) -> dict[str, float]:
        """Every route's probability for one text, from the class head; none for a text an
        operator's edit since the head was fitted touches."""
        assert self.head is not None
        # The vote embedded this text a moment ago: the encoder remembers its vector.
        (vector,) = await self.encoder.aencode_queries([text])  # type: ignore[attr-defined]
        if self._edit and await self._edit_decides(text, np.asarray(vector)):
            return {}
        found = self.head.probabilities(vector)
        return {route: p for route, p in found.items() if route in self._model_of}

    def _unit_vectors(self, texts: list[str]) -> np.ndarray | None:
        """The texts' vectors as utterances are embedded (so from the embedding cache), unit length."""
        if not texts:
            return None
        embed = (
            self.encoder.encode_documents if isinstance(self.encoder, AsymmetricDenseMixin) else self.encoder
        )
        vectors = np.asarray(embed(texts), dtype=np.float64)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    async def _edit_decides(self, text: str, vector: np.ndarray) -> bool:
        """Whether the edit touches this text: a removed utterance lies as near to it as its top_k-th
        nearest utterance now (the head learned that one, and would keep pulling the text where it
        was taken from), or the route the vote alone gives it clears its threshold with an added
        utterance among its nearest (the head never learned that one, and would outvote it)."""
        index: UtteranceIndex = self.router.index  # type: ignore[assignment]
        # The stored utterances are searched only when a check needs them, and once: with added
        # utterances alone, most messages leave at the cheaper checks below.
        nearest = None
        if self._removed is not None:
            nearest = index.nearest(vector, self.config.top_k)
            kth = nearest[0][2] if len(nearest) == self.config.top_k else -1.0
            if float(np.max(self._removed @ (vector / (np.linalg.norm(vector) or 1.0)))) >= kth:
                return True
        if not self._edit.added:
            return False
        scores = await self.scores_of(text)
        route = max(scores, key=scores.__getitem__)
        added = self._edit.added.get(route)
        if not added or scores[route] < self._threshold_of[route]:
            return False
        if nearest is None:
            nearest = index.nearest(vector, self.config.top_k)
        return any(name == route and utterance in added for name, utterance, _ in nearest)

    async def adecide(self, messages: Any) -> Decision:
        """Where this conversation's next answer should come from. Never raises on bad input."""
        start = time.perf_counter()
        turns = user_turns(messages, self.config.max_chars, 1 + self.config.history_turns)
        if not turns:
            return self._decision(None, None, Reason.NO_TEXT, start)
        conversation = Conversation(tuple(turns), messages)
        evidence: list[Evidence] = []
        silenced: set[str] = set()
        for signal in self.signals:
            if signal.name not in silenced:
                said = await signal.evidence(conversation)
                silenced |= said.silences
                evidence.append(said)
        route, score, reason, margin, model = combine(self._threshold_of, evidence, self._miss_cost)
        decision = self._decision(route, score, reason, start, margin)
        return decision if model is None else replace(decision, model=model)

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
