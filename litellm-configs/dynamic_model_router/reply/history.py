"""A conversation's earlier replies, given back to the models as they wrote them.

The proxy shows a dcot reply folded for people (reply/dcot.py: HTML `<details>` and bold labels),
and a client may send the conversation back that way. Each model is asked with the reply in the
model's own markers instead: no markup it never wrote, and fewer tokens.
"""

from __future__ import annotations

from typing import Any

from dynamic_model_router.reply.dcot import unfold


def _same(new: list, old: list) -> bool:
    return all(n is o for n, o in zip(new, old, strict=True))


def _unfolded(content: Any) -> Any:
    """The content with a folded reply unfolded; the same object when there was none."""
    if isinstance(content, str):
        return unfold(content)
    if not isinstance(content, list):
        return content
    parts = [_unfolded_part(part) for part in content]
    return content if _same(parts, content) else parts


def _unfolded_part(part: Any) -> Any:
    if not isinstance(part, dict) or not isinstance(part.get("text"), str):
        return part
    text = unfold(part["text"])
    return part if text is part["text"] else {**part, "text": text}


def _unfolded_message(message: Any) -> Any:
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return message
    content = _unfolded(message.get("content"))
    return message if content is message.get("content") else {**message, "content": content}


def as_written(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A chat call's arguments with each folded assistant reply unfolded: a copy if one was, else
    `kwargs` itself (LiteLLM sends the original again to a fallback model). Runs on every chat
    call: a conversation without a fold is only read, never copied."""
    messages = kwargs.get("messages")
    if not isinstance(messages, list):
        return kwargs
    restored = [_unfolded_message(message) for message in messages]
    return kwargs if _same(restored, messages) else {**kwargs, "messages": restored}
