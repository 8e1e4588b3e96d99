"""A conversation's earlier replies, given back to the models as they wrote them.

The proxy shows a dcot reply folded for people (reply/dcot.py: HTML `<details>` and bold labels),
and a client may send the conversation back that way. Each model is asked with the reply in the
model's own markers instead: no markup it never wrote, and fewer tokens.
"""

from __future__ import annotations

from typing import Any

from dynamic_model_router.reply.dcot import unfold


def _unfolded(content: Any) -> Any:
    if isinstance(content, str):
        return unfold(content)
    if isinstance(content, list):
        return [
            {**part, "text": unfold(part["text"])}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
    return content


def as_written(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A chat call's arguments with each folded assistant reply unfolded: a copy if one was, else
    `kwargs` itself (LiteLLM sends the original again to a fallback model)."""
    messages = kwargs.get("messages")
    if not isinstance(messages, list):
        return kwargs
    restored = [
        {**m, "content": _unfolded(m.get("content"))}
        if isinstance(m, dict) and m.get("role") == "assistant"
        else m
        for m in messages
    ]
    if restored == messages:
        return kwargs
    return {**kwargs, "messages": restored}
