"""How a model is asked: chat templates rendered as vLLM renders them, and the ranges of the
generation settings a request, or a model's declared defaults, may carry.

A LoRA adapter answers well only when asked in the format it was trained on (the `dcot` card's
`[Question] ... [Number of answers] k`, say), while vLLM applies one chat template to every model it
serves. The routes file's `prompts` declare a model's own (routes_file.PromptConfig); the hook sends
them with each request to that model (request/prompt_format.py). A template is checked before it
serves: it must render a sample conversation in the sandbox transformers and vLLM render chat
templates in, and the question must appear in what it renders.
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Ranges of the sampling settings, as OpenAI's API defines them (the request edge and a model's
# defaults both hold to them). top_p excludes its lower bound.
TEMPERATURE = (0.0, 2.0)
TOP_P = (0.0, 1.0)
PENALTY = (-2.0, 2.0)
MAX_STOPS = 4

# The sample conversation a template must render, and the question it must put in the prompt.
SAMPLE_QUESTION = "How many legs do three spiders have?"
SAMPLE_CONVERSATION = (
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "I keep spiders."},
    {"role": "assistant", "content": "That sounds fun."},
    {"role": "user", "content": SAMPLE_QUESTION},
)

# As transformers' apply_chat_template (which vLLM uses): blocks trimmed, nothing writable.
_JINJA = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)


def render(template: str, messages: Any, add_generation_prompt: bool = True) -> str:
    """The prompt a chat template makes of these messages (what vLLM builds, before tokenizing)."""
    return _JINJA.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt, bos_token="", eos_token=""
    )


def template_problem(template: str) -> str | None:
    """What makes this chat template unfit to serve, or None."""
    try:
        rendered = render(template, list(SAMPLE_CONVERSATION))
    except jinja2.TemplateSyntaxError as e:
        return f"is not a valid Jinja template (line {e.lineno}: {e.message})"
    except Exception as e:  # a template may fail in any way while it renders: each is a refusal
        return f"does not render a conversation ({type(e).__name__}: {e})"
    if SAMPLE_QUESTION not in rendered:
        return "has no place for the question: the last user message does not appear in what it renders"
    return None
