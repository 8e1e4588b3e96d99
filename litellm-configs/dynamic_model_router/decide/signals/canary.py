"""The canary split (a route's `canary`): a new version of a route's model answers a share of its
conversations, chosen by a hash of each conversation's first user message, so a conversation keeps
its version as it goes on. It scores nothing: it names the model that answers the route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dynamic_model_router.decide.conversation import conversation_share
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups
from dynamic_model_router.routes_file import CanaryConfig, RoutesConfig


@dataclass(frozen=True)
class CanarySplit:
    canaries: dict[str, CanaryConfig]
    max_chars: int
    name: ClassVar[str] = "canary"

    async def evidence(self, conversation: Conversation) -> Evidence:
        share = conversation_share(conversation.messages, self.max_chars)
        return Evidence(models={r: c.model for r, c in self.canaries.items() if share < c.share})


def canary(config: RoutesConfig, lookups: Lookups) -> CanarySplit | None:
    canaries = {r.name: r.canary for r in config.routes if r.canary is not None}
    return CanarySplit(canaries, config.max_chars) if canaries else None
