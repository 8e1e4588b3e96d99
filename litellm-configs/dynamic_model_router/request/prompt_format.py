"""A request asked the way the routes file's `prompts.<model>` says (dynamic_model_router/prompts.py).

Applied in LiteLLM's deployment step, to the model that really answers: a request LiteLLM falls back
from an adapter to the base model is asked the base model's way, and a client that names an adapter
is asked its way too. The template travels in the request, in vLLM's `chat_template` field of chat
completions (vLLM 0.11.0 and later, which fix GHSA-6fvq-23cw-5628, need --trust-request-chat-template for
it; the chart passes it).
Clients cannot send that field (request/fields.py refuses it), so only this proxy's templates reach
vLLM.
"""

from __future__ import annotations

from typing import Any

from dynamic_model_router.routes_file import PromptConfig

# A client's max_completion_tokens is its max_tokens: a default for one never overrides the other.
SAME_SETTING = {"max_tokens": "max_completion_tokens"}


def shape(kwargs: dict[str, Any], prompt: PromptConfig) -> dict[str, Any]:
    """A copy of a chat call's arguments, asked the way `prompt` declares; the original is untouched
    (LiteLLM sends it again to a fallback model)."""
    shaped = dict(kwargs)
    if prompt.chat_template is not None:
        shaped["extra_body"] = {**(kwargs.get("extra_body") or {}), "chat_template": prompt.chat_template}
    if prompt.system_prompt:
        messages = kwargs.get("messages")
        if isinstance(messages, list):
            shaped["messages"] = [{"role": "system", "content": prompt.system_prompt}, *messages]
    for name, value in prompt.defaults.model_dump(mode="json", exclude_none=True).items():
        if kwargs.get(name) is None and kwargs.get(SAME_SETTING.get(name, name)) is None:
            shaped[name] = value
    return shaped
