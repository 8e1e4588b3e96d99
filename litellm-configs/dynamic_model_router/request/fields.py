"""The fields a request may carry to the model server, and their ranges: the proxy's edge.

Only the fields of OpenAI's APIs that this product supports pass, with the router's own; anything
else is refused with a 400 naming the field, before LiteLLM or vLLM see it. Whatever vLLM version
runs behind the proxy, no request can then reach it with its own Jinja template
(`chat_template`, `chat_template_kwargs`: rendered on the server), guided-decoding grammars or
regexes, an unbounded `n`, or a temperature that is not a finite number (public advisories against
vLLM's OpenAI server: see docs/operations.md). Structured output (`response_format` of type
`json_object` or `json_schema`) is refused unless STRUCTURED_OUTPUTS turns it on, and is then
bounded in size.

Settings (environment; the chart's `litellm.requests.*`): MAX_CHOICES (`n`, `best_of` and the
prompts of a batch, default 1), STRUCTURED_OUTPUTS (`true` to allow it, default off),
STRUCTURED_OUTPUT_MAX_BYTES (its size once serialised, default 16384).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dynamic_model_router import prompts
from dynamic_model_router.request.messages import (
    CHAT_CALLS,
    MESSAGES_CALLS,
    RESPONSES_CALLS,
    TEXT_COMPLETION_CALLS,
)
from dynamic_model_router.request.validation import describe

MAX_CHOICES_ENV = "MAX_CHOICES"
STRUCTURED_OUTPUTS_ENV = "STRUCTURED_OUTPUTS"
STRUCTURED_OUTPUT_MAX_BYTES_ENV = "STRUCTURED_OUTPUT_MAX_BYTES"


class Refusal(StrEnum):
    """Why a request was turned away before routing: the bounded label of the refusals metric."""

    BODY_TOO_LARGE = "body-too-large"
    NOT_AN_OBJECT = "not-an-object"
    MALFORMED = "malformed"
    EMBEDDINGS = "embeddings"
    UNKNOWN_FIELD = "unknown-field"
    TEMPLATE = "template"
    WRONG_TYPE = "wrong-type"
    OUT_OF_RANGE = "out-of-range"
    TOO_MANY_CHOICES = "too-many-choices"
    STRUCTURED_OUTPUT = "structured-output"


# Fields a client may not send at all, with the reason said to it (vLLM reads them if they reach it).
FORBIDDEN = {
    "chat_template": "a request's own chat template is rendered by the model server; this proxy sends none",
    "chat_template_kwargs": "template arguments are rendered by the model server; this proxy sends none",
}


@dataclass(frozen=True)
class Limits:
    max_choices: int = 1
    structured_outputs: bool = False
    structured_output_max_bytes: int = 16384

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Limits:
        """The limits the environment sets; raises ValueError naming a variable that is no setting."""

        def whole(name: str, default: int) -> int:
            given = environ.get(name, "").strip()
            if not given:
                return default
            if not given.isdigit() or int(given) < 1:
                raise ValueError(f"{name} must be a whole number of 1 or more, got {given!r}")
            return int(given)

        flag = environ.get(STRUCTURED_OUTPUTS_ENV, "").strip().lower()
        if flag not in ("", "true", "false"):
            raise ValueError(f"{STRUCTURED_OUTPUTS_ENV} must be true or false, got {flag!r}")
        return cls(
            max_choices=whole(MAX_CHOICES_ENV, cls.max_choices),
            structured_outputs=flag == "true",
            structured_output_max_bytes=whole(
                STRUCTURED_OUTPUT_MAX_BYTES_ENV, cls.structured_output_max_bytes
            ),
        )


Problem = tuple[Refusal, str]
Check = Callable[[Any, Limits], Problem | None]


@dataclass(frozen=True)
class Rule:
    """What a field's value must be: of these types (said `expected`), then pass `check`."""

    types: tuple[type, ...]
    expected: str
    check: Check | None = None
    # The conversation itself: null is no conversation, which LiteLLM would answer with a 500.
    required: bool = False


def _between(low: float, high: float, low_open: bool = False) -> Check:
    def check(value: Any, limits: Limits) -> Problem | None:
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            bounds = f"{'above' if low_open else 'from'} {low:g} {'up ' if low_open else ''}to {high:g}"
            shown = repr(value) if not math.isfinite(value) else f"{value:g}"
            return Refusal.OUT_OF_RANGE, f"must be a finite number {bounds}, got {shown}"
        return None

    return check


def _at_least(low: int) -> Check:
    def check(value: Any, limits: Limits) -> Problem | None:
        return None if value >= low else (Refusal.OUT_OF_RANGE, f"must be {low} or more, got {value}")

    return check


def _choices(value: Any, limits: Limits) -> Problem | None:
    if 1 <= value <= limits.max_choices:
        return None
    return (
        Refusal.TOO_MANY_CHOICES if value > limits.max_choices else Refusal.OUT_OF_RANGE,
        f"must be from 1 to {limits.max_choices} (this proxy's {MAX_CHOICES_ENV}), got {value}",
    )


def _at_most_items(count: int) -> Check:
    def check(value: Any, limits: Limits) -> Problem | None:
        if len(value) > count:
            return Refusal.OUT_OF_RANGE, f"must have {count} items or fewer, got {len(value)}"
        return None

    return check


def _stop(value: Any, limits: Limits) -> Problem | None:
    stops = [value] if isinstance(value, str) else value
    if len(stops) > prompts.MAX_STOPS or not all(isinstance(s, str) for s in stops):
        return Refusal.OUT_OF_RANGE, f"must be a string or a list of up to {prompts.MAX_STOPS} strings"
    return None


def _not_empty(value: Any, limits: Limits) -> Problem | None:
    return None if value or isinstance(value, str) else (Refusal.MALFORMED, "must not be an empty list")


def _prompt(value: Any, limits: Limits) -> Problem | None:
    """A prompt, or a batch of prompts. A batch goes to one model, chosen on all its prompts, and
    each prompt is a generation, as a choice is: it is held to MAX_CHOICES like `n`."""
    if isinstance(value, str):
        return None
    if not value or not all(isinstance(p, str) for p in value):
        return (
            Refusal.MALFORMED,
            "must be a string or a non-empty list of strings (token ids are not accepted: "
            "the router reads words)",
        )
    if len(value) > limits.max_choices:
        return (
            Refusal.TOO_MANY_CHOICES,
            f"is a batch of {len(value)} prompts, over this proxy's {limits.max_choices} "
            f"({MAX_CHOICES_ENV}); a request goes to one model: send one request per prompt",
        )
    return None


def _response_format(value: Any, limits: Limits) -> Problem | None:
    kind = value.get("type")
    if kind == "text":
        return None
    if kind not in ("json_object", "json_schema"):
        return Refusal.OUT_OF_RANGE, "type must be text, json_object or json_schema"
    if not limits.structured_outputs:
        return (
            Refusal.STRUCTURED_OUTPUT,
            f"structured output ({kind}) is off on this proxy ({STRUCTURED_OUTPUTS_ENV}; the chart's "
            "litellm.requests.structuredOutputs)",
        )
    size = len(json.dumps(value))
    if size > limits.structured_output_max_bytes:
        return (
            Refusal.STRUCTURED_OUTPUT,
            f"is {size} bytes, over this proxy's {limits.structured_output_max_bytes} "
            f"({STRUCTURED_OUTPUT_MAX_BYTES_ENV})",
        )
    return None


TEXT = Rule((str,), "a string")
FLAG = Rule((bool,), "true or false")
OBJECT = Rule((dict,), "an object")
CONVERSATION = Rule((list,), "a non-empty list", _not_empty, required=True)
WHOLE = Rule((int,), "a whole number")
TOKENS = Rule((int,), "a whole number", _at_least(1))
CHOICES = Rule((int,), "a whole number", _choices)
TEMPERATURE = Rule((int, float), "a number", _between(*prompts.TEMPERATURE))
TOP_P = Rule((int, float), "a number", _between(*prompts.TOP_P, low_open=True))
PENALTY = Rule((int, float), "a number", _between(*prompts.PENALTY))
STOP = Rule((str, list), "a string or a list of strings", _stop)
LOGIT_BIAS = Rule((dict,), "an object", _at_most_items(300))
TOOLS = Rule((list,), "a list", _at_most_items(128))
TOOL_CHOICE = Rule((str, dict), "a string or an object")
# Chat messages: validation.py names what is wrong with them, down to the message and part.
CHAT_MESSAGES = Rule((), "checked by validation.py")

# Every API's fields, in OpenAI's words (and Anthropic's for /v1/messages). `metadata` is
# LiteLLM's own request metadata; it never reaches vLLM.
SHARED = {
    "model": TEXT,
    "stream": FLAG,
    "stream_options": OBJECT,
    "user": TEXT,
    "metadata": OBJECT,
    "temperature": TEMPERATURE,
    "top_p": TOP_P,
    "seed": WHOLE,
}
FIELDS: dict[str, dict[str, Rule]] = {
    "chat": {
        **SHARED,
        "messages": CHAT_MESSAGES,
        "max_tokens": TOKENS,
        "max_completion_tokens": TOKENS,
        "n": CHOICES,
        "stop": STOP,
        "presence_penalty": PENALTY,
        "frequency_penalty": PENALTY,
        "logprobs": FLAG,
        "top_logprobs": Rule((int,), "a whole number", _between(0, 20)),
        "logit_bias": LOGIT_BIAS,
        "tools": TOOLS,
        "tool_choice": TOOL_CHOICE,
        "parallel_tool_calls": FLAG,
        "functions": TOOLS,
        "function_call": TOOL_CHOICE,
        "response_format": Rule((dict,), "an object", _response_format),
        "reasoning_effort": TEXT,
    },
    "completions": {
        **SHARED,
        "prompt": Rule((str, list), "a string or a list of strings", _prompt, required=True),
        "max_tokens": TOKENS,
        "n": CHOICES,
        "best_of": CHOICES,
        "stop": STOP,
        "presence_penalty": PENALTY,
        "frequency_penalty": PENALTY,
        "logprobs": Rule((int,), "a whole number", _between(0, 5)),
        "echo": FLAG,
        "suffix": TEXT,
        "logit_bias": LOGIT_BIAS,
    },
    "responses": {
        **SHARED,
        "input": Rule((str, list), "a string or a non-empty list", _not_empty, required=True),
        "instructions": TEXT,
        "max_output_tokens": TOKENS,
        "previous_response_id": TEXT,
        "store": FLAG,
        "tools": TOOLS,
        "tool_choice": TOOL_CHOICE,
        "parallel_tool_calls": FLAG,
        "truncation": TEXT,
    },
    "messages": {
        **SHARED,
        "messages": CONVERSATION,
        "system": Rule((str, list), "a string or a list"),
        "max_tokens": TOKENS,
        "stop_sequences": STOP,
        "top_k": Rule((int,), "a whole number", _at_least(0)),
        "tools": TOOLS,
        "tool_choice": TOOL_CHOICE,
    },
}


# LiteLLM's call types (request/messages.py) by API, for the guards that see a call type.
API_OF_CALL = {
    **dict.fromkeys(CHAT_CALLS, "chat"),
    **dict.fromkeys(TEXT_COMPLETION_CALLS, "completions"),
    **dict.fromkeys(RESPONSES_CALLS, "responses"),
    **dict.fromkeys(MESSAGES_CALLS, "messages"),
}


def api_of(path: str) -> str | None:
    """Which API a request path serves (`/v1/chat/completions` -> chat), or None for the rest."""
    for suffix, api in (
        ("/chat/completions", "chat"),
        ("/completions", "completions"),
        ("/responses", "responses"),
        ("/messages", "messages"),
    ):
        if path.rstrip("/").endswith(suffix):
            return api
    return None


def _shown(name: str) -> str:
    """A field's name for an error message: short, and only word characters (names are the
    client's text too)."""
    return repr(name[:40]) if name[:40].replace("_", "").isalnum() else "with an unusual name"


def problem(
    body: Mapping[str, Any], api: str, limits: Limits, others_allowed: bool = False
) -> Problem | None:
    """What makes this request's fields unfit for the model server, or None. Never echoes a value.
    `others_allowed`: check the known fields only (a request LiteLLM has added its own fields to)."""
    rules = FIELDS[api]
    for name, value in body.items():
        if name in FORBIDDEN:
            return Refusal.TEMPLATE, f"field '{name}' is not accepted: {FORBIDDEN[name]}"
        rule = rules.get(name)
        if rule is None and others_allowed:
            continue
        if rule is None:
            return (
                Refusal.UNKNOWN_FIELD,
                f"field {_shown(str(name))} is not accepted by this proxy; the {api} API takes "
                f"{', '.join(sorted(rules))}",
            )
        if value is None and rule.required:
            return Refusal.MALFORMED, f"'{name}' must be {rule.expected}, got null"
        if value is None or not rule.types:
            continue
        # bool is an int in Python, but `"max_tokens": true` is no number of tokens.
        if not isinstance(value, rule.types) or (bool not in rule.types and isinstance(value, bool)):
            return Refusal.WRONG_TYPE, f"'{name}' must be {rule.expected}, got {describe(value)}"
        found = rule.check(value, limits) if rule.check else None
        if found is not None:
            return found[0], f"'{name}' {found[1]}"
    return None
