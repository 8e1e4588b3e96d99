"""Topic-change phrases (routes file `topic_change_phrases`): a user who says the topic changed
("Different question: ...") is believed, so the conversation's history does not count for that turn,
however strongly it pulls elsewhere. Matched case-insensitively as whole words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups
from dynamic_model_router.decide.signals.history import ConversationHistory
from dynamic_model_router.routes_file import RoutesConfig

_NOTHING = Evidence()


@dataclass(frozen=True)
class TopicChange:
    phrases: re.Pattern[str]
    name: ClassVar[str] = "topic_change"

    async def evidence(self, conversation: Conversation) -> Evidence:
        turns = conversation.turns
        if len(turns) < 2 or not self.phrases.search(turns[0]):
            return _NOTHING
        return Evidence(silences=frozenset({ConversationHistory.name}), reason=Reason.TOPIC_CHANGE)


def topic_change(config: RoutesConfig, lookups: Lookups) -> TopicChange | None:
    if not config.topic_change_phrases:
        return None
    phrases = "|".join(r"\s+".join(map(re.escape, p.split())) for p in config.topic_change_phrases)
    return TopicChange(re.compile(rf"\b(?:{phrases})\b", re.IGNORECASE))
