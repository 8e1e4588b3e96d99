"""Reading the conversation out of chat, completions and Responses API requests."""

from __future__ import annotations

import pytest

from dynamic_model_router.request.messages import chat_messages

USER = {"role": "user", "content": "My knee hurts."}


def test_chat_requests_give_their_messages_as_they_are():
    messages = [{"role": "system", "content": "Be brief."}, USER]
    assert chat_messages({"messages": messages}, "acompletion") is messages


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("My knee hurts.", [USER]),
        (["First prompt.", "My knee hurts."], [{"role": "user", "content": "First prompt."}, USER]),
        ([[464, 3290], [318]], []),
        (None, []),
    ],
    ids=["one-prompt", "a-batch-of-prompts", "token-ids", "no-prompt"],
)
def test_a_completions_prompt_is_read_as_user_turns(prompt: object, expected: list):
    assert chat_messages({"prompt": prompt}, "atext_completion") == expected


def test_a_responses_string_input_is_one_user_turn():
    assert chat_messages({"input": "My knee hurts."}, "aresponses") == [USER]


def test_responses_input_items_keep_messages_and_drop_tool_and_reasoning_items():
    message = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "My knee hurts."}],
    }
    plain = {"role": "assistant", "content": "Since when?"}
    items = [plain, {"type": "function_call_output", "output": "42"}, {"type": "reasoning"}, "junk", message]
    assert chat_messages({"input": items}, "aresponses") == [plain, message]


@pytest.mark.parametrize("given", [None, 42, {"role": "user"}])
def test_unreadable_responses_input_gives_no_messages(given: object):
    assert chat_messages({"input": given}, "aresponses") == []
