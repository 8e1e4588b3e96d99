"""The conversation a request carries, whichever OpenAI API it came through.

The router reads chat messages. /v1/completions carries a `prompt` and /v1/responses an
`input` instead; both are read as user turns, so the virtual model routes them as it routes
a chat instead of sending them to the base model for want of text.
"""

from __future__ import annotations

from typing import Any

# LiteLLM's call types (the proxy passes its route type to hooks), by endpoint.
CHAT_CALLS = ("completion", "acompletion")
TEXT_COMPLETION_CALLS = ("text_completion", "atext_completion")
RESPONSES_CALLS = ("responses", "aresponses")
# /v1/messages, Anthropic's API (read as chat messages).
MESSAGES_CALLS = ("anthropic_messages",)
EMBEDDING_CALLS = ("embedding", "aembedding")


def chat_messages(data: dict[str, Any], call_type: Any) -> Any:
    """The request's conversation as chat messages, oldest first; anything unreadable gives []."""
    if call_type in TEXT_COMPLETION_CALLS:
        return _user_turns(data.get("prompt"))
    if call_type in RESPONSES_CALLS:
        given = data.get("input")
        if isinstance(given, list):
            # Message items; tool calls, their outputs and reasoning items carry no user words.
            return [
                item for item in given if isinstance(item, dict) and item.get("type", "message") == "message"
            ]
        return _user_turns(given)
    return data.get("messages")


def _user_turns(prompt: Any) -> list[dict[str, Any]]:
    """A prompt, or a batch of prompts (one request goes to one model), as user turns.
    Token-id prompts have no text to route on."""
    prompts = prompt if isinstance(prompt, list) else [prompt]
    return [{"role": "user", "content": p} for p in prompts if isinstance(p, str)]
