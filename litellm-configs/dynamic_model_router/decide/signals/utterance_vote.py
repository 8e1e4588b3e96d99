"""The utterance vote: the latest user turn's score for every route, from its nearest utterances.
The primary signal: a decision it carries on its own has reason `route`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups, TextScores
from dynamic_model_router.routes_file import RoutesConfig


@dataclass(frozen=True)
class UtteranceVote:
    scores: TextScores
    name: ClassVar[str] = "utterance_vote"

    async def evidence(self, conversation: Conversation) -> Evidence:
        return Evidence(scores=await self.scores(conversation.turns[0]), reason=Reason.ROUTE)


def utterance_vote(config: RoutesConfig, lookups: Lookups) -> UtteranceVote:
    return UtteranceVote(lookups.scores)
