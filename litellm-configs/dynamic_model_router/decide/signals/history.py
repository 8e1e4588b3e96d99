"""The conversation's history: each earlier user turn (up to `history_turns` back) adds its route
scores, weighted by `history_weight` per turn back. A vague follow-up ("and what about for a 5 year
old?") scores low everywhere, so the conversation's route carries it (reason `sticky`); a clear new
topic scores high on its own and wins. Earlier turns' scores come from the decider's cache, so a
follow-up costs one embedding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups, TextScores
from dynamic_model_router.routes_file import RoutesConfig


@dataclass(frozen=True)
class ConversationHistory:
    scores: TextScores
    weight: float
    name: ClassVar[str] = "history"

    async def evidence(self, conversation: Conversation) -> Evidence:
        added: dict[str, float] = {}
        weight = 1.0
        for earlier in conversation.turns[1:]:
            weight *= self.weight
            for route, score in (await self.scores(earlier)).items():
                added[route] = added.get(route, 0.0) + weight * score
        return Evidence(scores=added, reason=Reason.STICKY)


def history(config: RoutesConfig, lookups: Lookups) -> ConversationHistory | None:
    return ConversationHistory(lookups.scores, config.history_weight) if config.history_turns else None
