"""The class head's vote (decide/class_head.py): for a message on its own, the head's probability
for each route, times its weight, added to the utterance vote. In a conversation (earlier user turns
read) it adds nothing: the history weight was fitted to the vote's scores of each turn, and a head
that made the latest turn's own evidence stronger would loosen the conversation's hold on a
follow-up. Its probabilities of the latest turn still count for routes that put recall first
(miss_cost), in conversations too: an urgent health message after another topic is such a turn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups, TextProbabilities
from dynamic_model_router.routes_file import RoutesConfig


@dataclass(frozen=True)
class ClassHeadVote:
    probabilities: TextProbabilities
    weight: float
    # Whether a route puts recall first: only then are a conversation's probabilities read.
    recall_first: bool
    name: ClassVar[str] = "class_head"

    async def evidence(self, conversation: Conversation) -> Evidence:
        if len(conversation.turns) > 1:
            if not self.recall_first:
                return Evidence()
            return Evidence(probabilities=await self.probabilities(conversation.turns[0]))
        found = await self.probabilities(conversation.turns[0])
        return Evidence(
            scores={route: self.weight * p for route, p in found.items()},
            reason=Reason.ROUTE,
            probabilities=found,
        )


def class_head(config: RoutesConfig, lookups: Lookups) -> ClassHeadVote | None:
    if not lookups.head or not lookups.head_weight:
        return None
    return ClassHeadVote(lookups.head, lookups.head_weight, any(r.recall_first for r in config.routes))
