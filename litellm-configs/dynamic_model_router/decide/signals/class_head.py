"""The class head's vote (decide/class_head.py): for a message on its own, the head's probability
for each route, times its weight, added to the utterance vote. In a conversation (earlier user turns
read) it says nothing: the history weight was fitted to the vote's scores of each turn, and a head
that made the latest turn's own evidence stronger would loosen the conversation's hold on a
follow-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups, TextProbabilities
from dynamic_model_router.routes_file import RoutesConfig

_NOTHING = Evidence()


@dataclass(frozen=True)
class ClassHeadVote:
    probabilities: TextProbabilities
    weight: float
    name: ClassVar[str] = "class_head"

    async def evidence(self, conversation: Conversation) -> Evidence:
        if len(conversation.turns) > 1:
            return _NOTHING
        found = await self.probabilities(conversation.turns[0])
        return Evidence(scores={route: self.weight * p for route, p in found.items()}, reason=Reason.ROUTE)


def class_head(config: RoutesConfig, lookups: Lookups) -> ClassHeadVote | None:
    return ClassHeadVote(lookups.head, lookups.head_weight) if lookups.head and lookups.head_weight else None
