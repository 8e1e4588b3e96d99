"""The LiteLLM hook, called directly: only the virtual model is routed, nothing raises."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from litellm.proxy.common_request_processing import should_return_raw_model_name

from custom_router import proxy_handler_instance
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import METADATA_KEY, Decision, Reason
from dynamic_model_router.hook import SemanticRouterHook
from dynamic_model_router.log import log
from support.hooks import hook_with
from support.prompts import MEDICAL, user


def pre_call(
    data: object, call_type: str = "completion", hook: SemanticRouterHook = proxy_handler_instance
) -> object:
    return asyncio.run(hook.async_pre_call_hook(None, None, data, call_type))


@pytest.fixture
def decision_log() -> Iterator[list[str]]:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    log.addHandler(handler)
    yield lines
    log.removeHandler(handler)


def test_module_exposes_a_ready_proxy_handler_instance_with_default_routes():
    assert proxy_handler_instance.routes.config.virtual_model == "auto"


@pytest.mark.parametrize("model", ["doctor", "dcot", "phi2", "gpt-4o", None])
def test_requests_for_other_models_pass_through_untouched(model: str | None):
    data = {"model": model, "messages": user(), "metadata": {"a": 1}}
    before = json.dumps(data, sort_keys=True)
    result = pre_call(data)
    assert json.dumps(result, sort_keys=True) == before


def test_auto_request_is_sent_to_the_chosen_model_and_the_decision_recorded():
    data = {"model": "auto", "messages": user()}
    result = pre_call(data)
    assert result["model"] == "doctor"
    assert result["metadata"]["requested_model"] == "auto"
    assert result["metadata"][METADATA_KEY]["reason"] == "route"


@pytest.mark.parametrize(
    ("data", "call_type"),
    [
        ({"model": "auto", "messages": [{"role": "user", "content": ""}], "metadata": "x"}, "acompletion"),
        ({"model": "auto", "prompt": [[464, 3290, 318]]}, "atext_completion"),
        ({"model": "auto", "input": [{"type": "function_call_output", "output": "42"}]}, "aresponses"),
    ],
    ids=["nothing-to-embed", "token-id-prompt", "no-message-items"],
)
def test_auto_requests_without_text_go_to_the_base_model_without_raising(data: dict, call_type: str):
    result = pre_call(data, call_type)
    assert result["model"] == "phi2"
    assert result["metadata"][METADATA_KEY]["reason"] == "no-text"


@pytest.mark.parametrize(
    ("data", "call_type"),
    [
        ({"model": "auto", "prompt": MEDICAL, "max_tokens": 8}, "atext_completion"),
        ({"model": "auto", "input": MEDICAL}, "aresponses"),
        (
            {
                "model": "auto",
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": MEDICAL}]}
                ],
            },
            "aresponses",
        ),
    ],
    ids=["completions-prompt", "responses-string-input", "responses-message-items"],
)
def test_completions_and_responses_requests_for_auto_are_routed_like_chats(data: dict, call_type: str):
    result = pre_call(data, call_type)
    assert result["model"] == "doctor", f"routed to {result['model']}: {result['metadata'][METADATA_KEY]}"
    assert result["metadata"][METADATA_KEY]["reason"] == "route"


def test_non_dict_request_data_is_returned_as_is():
    assert pre_call(["not", "a", "dict"]) == ["not", "a", "dict"]


def test_each_decision_is_one_json_log_line_without_the_prompt(decision_log: list[str]):
    pre_call({"model": "auto", "messages": user()})
    decisions = [json.loads(line) for line in decision_log if line.startswith("{")]
    assert len(decisions) == 1, decision_log
    entry = decisions[0]
    assert {"event", "requested", "model", "route", "reason", "score", "latency_ms"} <= entry.keys()
    assert entry["model"] == "doctor"
    joined = "\n".join(decision_log)
    assert "swollen knee" not in joined and "warm to the touch" not in joined, f"prompt text leaked: {joined}"


def test_response_headers_name_the_routed_model_reason_and_score():
    data = pre_call({"model": "auto", "messages": user()})
    headers = asyncio.run(proxy_handler_instance.async_post_call_response_headers_hook(data, None, None))
    assert headers is not None
    assert headers["x-semantic-route"] == "doctor"
    assert headers["x-semantic-route-reason"] == "route"
    assert float(headers["x-semantic-route-score"]) > 0.0


class FellBack:
    """A response as LiteLLM returns it after falling back from the routed model to the base model."""

    _hidden_params = {
        "additional_headers": {"x-litellm-attempted-fallbacks": 1, "x-litellm-model-group": "phi2"}
    }


def test_an_answer_from_the_fallback_model_is_named_in_the_headers_and_the_log(decision_log: list[str]):
    data = pre_call({"model": "auto", "messages": user()})
    headers = asyncio.run(
        proxy_handler_instance.async_post_call_response_headers_hook(data, None, FellBack())
    )
    assert headers is not None
    assert headers["x-semantic-route"] == "phi2", "the header must name the model that answered"
    assert headers["x-semantic-route-reason"] == "unavailable"
    assert headers["x-semantic-route-unavailable"] == "doctor"
    warnings = [json.loads(line) for line in decision_log if '"route_unavailable"' in line]
    assert [(w["model"], w["answered_by"]) for w in warnings] == [("doctor", "phi2")], decision_log


def test_unrouted_requests_get_no_route_headers():
    data = {"model": "doctor", "messages": user()}
    assert asyncio.run(proxy_handler_instance.async_post_call_response_headers_hook(data, None, None)) is None


def streamed(data: dict) -> list[object]:
    async def upstream():
        for chunk in ("chunk-1", "chunk-2"):
            yield chunk

    async def collect() -> list[object]:
        hook = proxy_handler_instance.async_post_call_streaming_iterator_hook(None, upstream(), data)
        return [item async for item in hook]

    return asyncio.run(collect())


def test_routed_answers_keep_the_answering_model_in_the_response_model_field():
    data = pre_call({"model": "auto", "messages": user()})
    assert should_return_raw_model_name(data), "LiteLLM would rename the answer's model to `auto`"


def test_open_webui_gets_an_answered_by_status_event_before_a_routed_stream():
    data = pre_call({"model": "auto", "messages": user()})
    data["proxy_server_request"] = {"headers": {"X-Semantic-Route-Notice": "open-webui"}}
    first, *rest = streamed(data)
    assert isinstance(first, bytes) and first.startswith(b"data: ") and first.endswith(b"\n\n"), first
    event = json.loads(first.removeprefix(b"data: "))["event"]
    assert event == {"type": "status", "data": {"description": "Answered by doctor", "done": True}}
    assert rest == ["chunk-1", "chunk-2"], "the answer itself must stream through unchanged"


@pytest.mark.parametrize(
    "data",
    [
        {"model": "auto", "messages": user()},
        {
            "model": "doctor",
            "messages": user(),
            "proxy_server_request": {"headers": {"x-semantic-route-notice": "open-webui"}},
        },
    ],
    ids=["client-did-not-ask", "request-was-not-routed"],
)
def test_streams_carry_no_status_event_unless_routed_and_asked_for(data: dict):
    assert streamed(pre_call(data)) == ["chunk-1", "chunk-2"]


@pytest.mark.parametrize(
    ("served", "answered_by"),
    [({"auto", "phi2", "dcot"}, "phi2"), ({"auto", "dcot"}, "auto")],
    ids=["base-model-served", "only-the-virtual-model-left"],
)
def test_a_routed_model_the_proxy_does_not_serve_is_answered_by_the_base_model_and_logged(
    decider: RouteDecider, decision_log: list[str], served: set[str], answered_by: str
):
    hook = hook_with(decider, served)
    result = pre_call({"model": "auto", "messages": user()}, hook=hook)
    assert result["model"] == answered_by, "a request went to a model the proxy would refuse"
    assert result["metadata"][METADATA_KEY]["reason"] == "error"
    [line] = [json.loads(line) for line in decision_log if '"route_model_not_served"' in line]
    assert line["model"] == "doctor" and line["route"] == "doctor", line


class BrokenDecider:
    """A decider whose encoder failed: routing raises."""

    def __init__(self, config):
        self.config = config

    async def adecide(self, messages):
        raise RuntimeError("the encoder failed")


def test_a_failure_in_routing_is_answered_by_the_base_model_and_logged_without_the_prompt(
    decider: RouteDecider, caplog
):
    hook = hook_with(BrokenDecider(decider.config), {"auto", "phi2", "doctor", "dcot"})
    with caplog.at_level(logging.INFO, logger=log.name):
        result = pre_call({"model": "auto", "messages": user()}, hook=hook)
    assert result["model"] == "phi2", "a routing failure must not fail or misdirect the request"
    assert Decision.from_request(result).reason == Reason.ERROR
    assert "routing failed, using phi2: RuntimeError" in caplog.text
    assert "swollen knee" not in caplog.text, "the prompt leaked into the log"
