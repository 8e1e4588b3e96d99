"""The words a decision reads: a request's user turns, bounded and sanitised for the encoder.

Only user turns count; content may be a string or OpenAI content parts (chat's `text`, the
Responses API's `input_text`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_SPACES = re.compile(r"\s+")
# Content parts with words in them: chat's `text`, the Responses API's `input_text`.
TEXT_PARTS = ("text", "input_text")


def ends(text: str, max_chars: int) -> str:
    """The text, or its first and last halves when longer than max_chars: the question after a
    pasted page counts as much as the one before it."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 2
    return text[:head] + " " + text[len(text) - (max_chars - head - 1) :]


def clean_text(text: str, max_chars: int) -> str:
    """Bound and sanitise text for the encoder.

    Lone surrogates (from JSON like "\\ud800") make the tokenizer raise, and control
    characters carry no meaning, so both become spaces.
    """
    text = ends(text, max_chars)
    if not text.isprintable():
        text = "".join(
            " " if unicodedata.category(c) in ("Cc", "Cs", "Cf") and not c.isspace() else c for c in text
        )
    return _SPACES.sub(" ", text).strip()


def _content_text(content: Any, max_chars: int) -> str:
    """The text of a message's content: a string, or OpenAI content parts."""
    if isinstance(content, str):
        return ends(content, max_chars)
    if not isinstance(content, list):
        return ""
    pieces = [
        part["text"] if isinstance(part, dict) else part
        for part in content
        if isinstance(part, str)
        or (isinstance(part, dict) and part.get("type") in TEXT_PARTS and isinstance(part.get("text"), str))
    ]
    return ends("\n".join(pieces), max_chars)


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


def text_turns(messages: Any, max_chars: int) -> list[dict[str, str]]:
    """The conversation as plain text turns ({"role", "content"}: user and assistant, in order) up
    to its last user turn: what a review file holds (training/labelled.py)."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        return []
    turns = [
        {"role": m["role"], "content": text}
        for m in messages
        if isinstance(m, dict)
        and m.get("role") in ("user", "assistant")
        and (text := clean_text(_content_text(m.get("content"), max_chars), max_chars))
    ]
    while turns and turns[-1]["role"] != "user":
        turns.pop()
    return turns
