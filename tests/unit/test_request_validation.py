"""Malformed chat messages are described in one sentence that names the problem, never the text."""

from __future__ import annotations

import pytest

from dynamic_model_router.request.validation import problem, unreachable

SECRET = "my HIV test came back positive"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"model": "auto"}, "missing required field 'messages'"),
        ({"model": None}, "the request body must be a UTF-8 encoded JSON object with 'model' and 'messages'"),
        (
            {"messages": SECRET},
            "'messages' must be a non-empty list of {role, content} objects, got a string",
        ),
        ({"messages": []}, "got an empty list"),
        ({"messages": {"role": "user"}}, "got an object"),
        ({"messages": [SECRET]}, "messages[0] must be an object with 'role' and 'content', got a string"),
        ({"messages": [{"content": SECRET}]}, "messages[0].role must be one of system, developer, user"),
        ({"messages": [{"role": "doctor", "content": SECRET}]}, "got 'doctor'"),
        (
            {"messages": [{"role": "user", "content": SECRET}, {"role": "user"}]},
            "messages[1].content is required",
        ),
        ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content must be a string or a list"),
        ({"messages": [{"role": "user", "content": {"text": SECRET}}]}, "got an object"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "messages[0].content[0] is a 'image_url' part; these models read text only",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}]},
            ".content[0].text must be a",
        ),
        (
            {"messages": [{"role": "user", "content": [SECRET]}]},
            "content[0] must be a {type: 'text', text} object",
        ),
    ],
    ids=[
        "no-messages",
        "empty-body",
        "messages-a-string",
        "messages-empty",
        "messages-an-object",
        "message-a-string",
        "no-role",
        "unknown-role",
        "second-message-without-content",
        "content-a-number",
        "content-an-object",
        "image-part",
        "text-part-not-a-string",
        "part-a-string",
    ],
)
def test_malformed_chat_requests_are_named_precisely_without_their_text(data: dict, expected: str):
    found = problem(data)
    assert found is not None and expected in found, found
    assert SECRET not in found, "the message echoed the user's text"


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "hi"}],
        [{"role": "system", "content": ""}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": []}],
        [{"role": "user", "content": "x" * 100_000}] * 3000,
    ],
    ids=["plain", "system-and-parts", "assistant-tool-call", "thousands-of-long-messages"],
)
def test_well_formed_chat_requests_pass(messages: list):
    assert problem({"messages": messages}) is None


def test_an_unreachable_model_server_is_told_from_other_failures():
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as refused:
            raise RuntimeError("InternalServerError: Hosted_vllmException") from refused
    except RuntimeError as wrapped:
        assert unreachable(wrapped)
    assert unreachable(RuntimeError("Cannot connect to host 127.0.0.1:8000 ssl:default"))
    assert not unreachable(ValueError("max_tokens is too large"))
