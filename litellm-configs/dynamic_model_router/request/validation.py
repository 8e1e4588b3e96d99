"""What went wrong with a chat request, said plainly.

LiteLLM and vLLM answer a malformed chat request with messages about something else (fallbacks,
"'int' object is not iterable", a 500), after retrying it for seconds. `problem()` says in one
sentence what is wrong with the request itself, so the proxy can answer 400 at once; and
`unreachable()` tells a model server that cannot be reached from any other failure, for a 503.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE_WORD = re.compile(r"[A-Za-z_]{1,20}")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def describe(value: Any) -> str:
    """A value's type for an error message, never the value itself (it may be a patient's words)."""
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return {dict: "an object", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def problem(data: dict[str, Any]) -> str | None:
    """What makes this chat completion request's messages malformed, or None if they are well formed
    (its other fields are fields.py's)."""
    if "messages" not in data and data.get("model") is None:
        # LiteLLM hands hooks an empty request when the body is not UTF-8 or not a JSON object.
        return "the request body must be a UTF-8 encoded JSON object with 'model' and 'messages'"
    if "messages" not in data:
        return "missing required field 'messages': a list of {role, content} objects"
    messages = data["messages"]
    if not isinstance(messages, list) or not messages:
        return f"'messages' must be a non-empty list of {{role, content}} objects, got {describe(messages)}"
    for i, message in enumerate(messages):
        found = _message_problem(message)
        if found:
            return f"messages[{i}]{found}"
    return None


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return f" must be an object with 'role' and 'content', got {describe(message)}"
    role = message.get("role")
    if role not in ROLES:
        # A one-word role is shown ("got 'doctor'"); anything that could carry a person's words is not.
        shown = repr(role) if isinstance(role, str) and _ROLE_WORD.fullmatch(role) else describe(role)
        return f".role must be one of {', '.join(ROLES)}; got {shown}"
    content = message.get("content")
    if content is None:
        # An assistant turn that only called tools has no content.
        return None if role == "assistant" else ".content is required"
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return f".content must be a string or a list of text parts, got {describe(content)}"
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            continue
        if kind == "text":
            return f".content[{j}].text must be a string, got {describe(part.get('text'))}"
        if isinstance(kind, str) and kind != "text":
            return f".content[{j}] is a {kind[:30]!r} part; these models read text only"
        return f".content[{j}] must be a {{type: 'text', text}} object, got {describe(part)}"
    return None


def unreachable(error: BaseException) -> bool:
    """Whether the model server could not be reached at all (refused, no route, DNS), as opposed
    to answering with an error. LiteLLM wraps the client's connection error, so look down the chain."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionError) or "Cannot connect to host" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
