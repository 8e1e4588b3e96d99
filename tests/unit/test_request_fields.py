"""The proxy's edge: only the fields each API supports, in range, reach the model server; each
public advisory's trigger shape against vLLM's OpenAI server is refused, naming the field."""

from __future__ import annotations

import asyncio
import math

import pytest
from fastapi import HTTPException
from prometheus_client import REGISTRY

from dmr_tools.paths import ROOT
from dynamic_model_router.request.fields import FIELDS, Limits, Refusal, api_of, problem
from dynamic_model_router.request.guards import proxy_guard_instance
from support.prompts import MEDICAL, user

DEFAULT = Limits()
CHAT = {"model": "auto", "messages": user(MEDICAL)}


def refused_count(check: Refusal) -> float:
    return REGISTRY.get_sample_value("semantic_router_requests_refused_total", {"check": str(check)}) or 0.0


@pytest.mark.parametrize(
    ("extra", "refusal", "said"),
    [
        # GHSA-6fvq-23cw-5628, GHSA-4hw3-g54f-xfrj: a request's own Jinja template, rendered by vLLM.
        ({"chat_template": "{{ 7*7 }}"}, Refusal.TEMPLATE, "field 'chat_template' is not accepted"),
        # GHSA-69j4-grxj-j64p: template arguments that block vLLM's event loop.
        ({"chat_template_kwargs": {"x": 1}}, Refusal.TEMPLATE, "field 'chat_template_kwargs'"),
        # GHSA-3mwp-wvh9-7528: an unbounded n, out of memory.
        ({"n": 50}, Refusal.TOO_MANY_CHOICES, "'n' must be from 1 to 1"),
        # GHSA-7h4p-rffg-7823: NaN or Infinity as a temperature.
        ({"temperature": math.nan}, Refusal.OUT_OF_RANGE, "'temperature' must be a finite number"),
        ({"temperature": math.inf}, Refusal.OUT_OF_RANGE, "got inf"),
        ({"top_p": -math.inf}, Refusal.OUT_OF_RANGE, "'top_p' must be a finite number above 0"),
        # GHSA-rwxx-mrjm-wc2m: structured-output regexes (vLLM's own guided-decoding fields).
        ({"guided_regex": "(a+)+$"}, Refusal.UNKNOWN_FIELD, "field 'guided_regex' is not accepted"),
        ({"structured_outputs": {"regex": "(a+)+$"}}, Refusal.UNKNOWN_FIELD, "'structured_outputs'"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
            Refusal.STRUCTURED_OUTPUT,
            "structured output (json_schema) is off",
        ),
        # LiteLLM's own request switches are not the client's to set.
        ({"mock_response": "hi"}, Refusal.UNKNOWN_FIELD, "field 'mock_response'"),
        ({"presence_penalty": 3}, Refusal.OUT_OF_RANGE, "'presence_penalty' must be a finite number from -2"),
        ({"max_tokens": 0}, Refusal.OUT_OF_RANGE, "'max_tokens' must be 1 or more"),
        ({"stop": ["a", "b", "c", "d", "e"]}, Refusal.OUT_OF_RANGE, "up to 4 strings"),
        ({"stream": "yes"}, Refusal.WRONG_TYPE, "'stream' must be true or false"),
        ({"max_tokens": "10"}, Refusal.WRONG_TYPE, "'max_tokens' must be a whole number"),
        ({"max_tokens": True}, Refusal.WRONG_TYPE, "got a boolean"),
        ({"temperature": [1]}, Refusal.WRONG_TYPE, "'temperature' must be a number"),
    ],
)
def test_each_advisory_shape_and_bad_value_is_refused_naming_the_field(
    extra: dict, refusal: Refusal, said: str
):
    found = problem({**CHAT, **extra}, "chat", DEFAULT)
    assert found is not None, f"{extra} passed the edge"
    assert found[0] == refusal and said in found[1], found


def test_an_unknown_fields_message_lists_what_the_api_takes_and_never_echoes_an_odd_name():
    found = problem({**CHAT, "my HIV result": 1}, "chat", DEFAULT)
    assert found is not None and found[0] == Refusal.UNKNOWN_FIELD
    assert "HIV" not in found[1] and "with an unusual name" in found[1], found[1]
    assert "max_tokens" in found[1], "the message should list the fields the API takes"


@pytest.mark.parametrize(
    ("api", "body"),
    [
        (
            "chat",
            {
                **CHAT,
                "stream": True,
                "stream_options": {"include_usage": True},
                "max_tokens": 64,
                "temperature": 0.7,
                "top_p": 1,
                "stop": ["\n"],
                "seed": 3,
                "user": "someone",
                "metadata": {"chat_id": "x"},
            },
        ),
        ("completions", {"model": "auto", "prompt": MEDICAL, "max_tokens": 4, "n": 1, "echo": False}),
        (
            "responses",
            {"model": "auto", "input": MEDICAL, "max_output_tokens": 16, "previous_response_id": "r"},
        ),
        ("messages", {"model": "auto", "messages": user(MEDICAL), "max_tokens": 16, "system": "be brief"}),
        ("chat", {**CHAT, "response_format": {"type": "text"}, "temperature": None}),
    ],
    ids=["open-webui-like-chat", "completions", "responses", "anthropic-messages", "text-format-and-null"],
)
def test_requests_of_each_api_with_supported_fields_pass(api: str, body: dict):
    assert problem(body, api, DEFAULT) is None


def test_structured_output_passes_when_turned_on_and_only_up_to_its_size():
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    on = Limits(structured_outputs=True, structured_output_max_bytes=200)
    assert problem({**CHAT, "response_format": schema}, "chat", on) is None
    big = {**schema, "json_schema": {"name": "x", "schema": {"description": "y" * 500}}}
    found = problem({**CHAT, "response_format": big}, "chat", on)
    assert found is not None and found[0] == Refusal.STRUCTURED_OUTPUT and "over this proxy's 200" in found[1]


def test_more_choices_pass_only_up_to_the_configured_limit():
    assert problem({**CHAT, "n": 3}, "chat", Limits(max_choices=4)) is None
    found = problem({**CHAT, "n": 5}, "chat", Limits(max_choices=4))
    assert found is not None and found[0] == Refusal.TOO_MANY_CHOICES


@pytest.mark.parametrize(
    ("api", "body", "refusal", "said"),
    [
        ("completions", {"prompt": None}, Refusal.MALFORMED, "list of strings, got null"),
        ("completions", {"prompt": []}, Refusal.MALFORMED, "non-empty list of strings"),
        ("completions", {"prompt": [1, 2, 3]}, Refusal.MALFORMED, "token ids are not accepted"),
        ("completions", {"prompt": [[1, 2], [3]]}, Refusal.MALFORMED, "token ids are not accepted"),
        ("completions", {"prompt": [MEDICAL, 1]}, Refusal.MALFORMED, "'prompt' must be a string"),
        ("completions", {"prompt": [MEDICAL, "solve 2x+3=7"]}, Refusal.TOO_MANY_CHOICES, "one request per"),
        ("responses", {"input": None}, Refusal.MALFORMED, "non-empty list, got null"),
        ("responses", {"input": []}, Refusal.MALFORMED, "'input' must not be an empty list"),
        ("messages", {"messages": []}, Refusal.MALFORMED, "'messages' must not be an empty list"),
        ("messages", {"messages": None}, Refusal.MALFORMED, "'messages' must be a non-empty list, got null"),
    ],
    ids=[
        "null-prompt",
        "empty-batch",
        "token-ids",
        "batch-of-token-ids",
        "batch-with-a-number",
        "batch-over-max-choices",
        "null-input",
        "empty-input",
        "empty-anthropic-messages",
        "null-anthropic-messages",
    ],
)
def test_a_conversation_that_is_missing_empty_or_not_words_is_refused_naming_the_field(
    api: str, body: dict, refusal: Refusal, said: str
):
    # Unchecked, LiteLLM answered the prompts and Anthropic messages here with a 500, and routed a
    # batch on all its prompts at once.
    found = problem({"model": "auto", **body}, api, DEFAULT)
    assert found is not None, f"{api} request {body} passed the edge"
    assert found[0] == refusal and said in found[1], found


def test_a_batch_of_prompts_passes_up_to_the_configured_limit():
    batch = {"model": "auto", "prompt": [MEDICAL, "solve 2x+3=7"]}
    assert problem(batch, "completions", Limits(max_choices=2)) is None
    assert problem({**batch, "prompt": [MEDICAL]}, "completions", DEFAULT) is None


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/v1/chat/completions", "chat"),
        ("/chat/completions", "chat"),
        ("/openai/deployments/auto/chat/completions", "chat"),
        ("/v1/completions", "completions"),
        ("/v1/responses", "responses"),
        ("/v1/messages", "messages"),
        ("/v1/embeddings", None),
        ("/health/readiness", None),
    ],
)
def test_the_api_is_told_by_the_request_path(path: str, api: str | None):
    assert api_of(path) == api


def test_every_api_takes_its_conversation_and_the_model():
    for api, rules in FIELDS.items():
        assert "model" in rules and {"messages", "prompt", "input"} & set(rules), api


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"MAX_CHOICES": "0"}, "MAX_CHOICES must be a whole number of 1 or more"),
        ({"MAX_CHOICES": "two"}, "MAX_CHOICES"),
        ({"STRUCTURED_OUTPUTS": "yes"}, "STRUCTURED_OUTPUTS must be true or false"),
        ({"STRUCTURED_OUTPUT_MAX_BYTES": "-1"}, "STRUCTURED_OUTPUT_MAX_BYTES"),
    ],
)
def test_a_limit_that_is_no_setting_is_refused_naming_the_variable(environ: dict, said: str):
    with pytest.raises(ValueError, match=said):
        Limits.from_environment(environ)


def test_limits_come_from_the_environment():
    limits = Limits.from_environment({"MAX_CHOICES": "2", "STRUCTURED_OUTPUTS": "true"})
    assert limits == Limits(max_choices=2, structured_outputs=True)
    assert Limits.from_environment({}) == DEFAULT


def test_the_guards_refuse_a_clients_template_with_a_400_and_count_it_once():
    before = refused_count(Refusal.TEMPLATE)
    data = {**CHAT, "chat_template": "{{ 7*7 }}", "litellm_call_id": "added-by-litellm"}
    with pytest.raises(HTTPException) as refused:
        asyncio.run(proxy_guard_instance.async_pre_call_hook(None, None, data, "acompletion"))
    assert refused.value.status_code == 400 and "'chat_template'" in str(refused.value.detail)
    assert refused_count(Refusal.TEMPLATE) == before + 1


def test_the_guards_let_litellms_own_fields_through_beside_a_good_request():
    data = {**CHAT, "max_tokens": 8, "litellm_call_id": "x", "proxy_server_request": {}, "metadata": {}}
    assert asyncio.run(proxy_guard_instance.async_pre_call_hook(None, None, data, "acompletion")) is data


def test_every_refusal_check_is_documented_with_the_metric():
    monitoring = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    row = next(line for line in monitoring.splitlines() if "semantic_router_requests_refused_total" in line)
    missing = [str(r) for r in Refusal if f"`{r}`" not in row]
    assert not missing, f"docs/monitoring.md does not list the refusal checks {missing}"
