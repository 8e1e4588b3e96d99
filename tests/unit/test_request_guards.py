"""The request guards, called directly: what the models cannot serve is turned away before routing."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import HTTPException

from dynamic_model_router.request.guards import proxy_guard_instance
from support.prompts import MEDICAL


def pre_call(data: object, call_type: str = "completion") -> object:
    return asyncio.run(proxy_guard_instance.async_pre_call_hook(None, None, data, call_type))


@pytest.mark.parametrize(
    "data",
    [
        {"model": "auto"},
        {"model": "auto", "messages": None},
        {"model": "doctor", "messages": "hello"},
        {"model": "auto", "messages": [{"role": "user", "content": {"nested": "dict"}}]},
    ],
)
def test_malformed_chat_requests_are_refused_with_400_before_routing(data: dict):
    asked = data.get("model")
    with pytest.raises(HTTPException) as refused:
        pre_call(data)
    assert refused.value.status_code == 400
    assert str(refused.value.detail).startswith("invalid chat request: "), refused.value.detail
    assert data.get("model") == asked, f"a refused request was rerouted from {asked} to {data.get('model')}"


@pytest.mark.parametrize("model", ["auto", "phi2", "doctor"])
def test_embedding_requests_are_refused_with_400_saying_the_models_are_chat_models(model: str):
    data = {"model": model, "input": MEDICAL}
    with pytest.raises(HTTPException) as refused:
        pre_call(data, "aembedding")
    assert refused.value.status_code == 400
    assert "chat models only" in str(refused.value.detail) and "no embedding model" in str(
        refused.value.detail
    )
    assert data["model"] == model, "a refused request must not be rerouted"


def test_well_formed_requests_pass_unchanged():
    data = {"model": "auto", "messages": [{"role": "user", "content": MEDICAL}], "max_tokens": 8}
    assert pre_call(dict(data)) == data
    assert pre_call(["not", "a", "dict"]) == ["not", "a", "dict"]


def test_an_unreachable_model_server_becomes_a_503_saying_so():
    refused = RuntimeError("litellm.InternalServerError: Cannot connect to host 127.0.0.1:8000")
    answer = asyncio.run(proxy_guard_instance.async_post_call_failure_hook({}, refused, None))
    assert answer is not None and answer.status_code == 503
    assert "model server (vLLM) is unavailable" in answer.detail
    assert answer.headers == {"Retry-After": "10"}
    other = asyncio.run(proxy_guard_instance.async_post_call_failure_hook({}, ValueError("bad"), None))
    assert other is None, "other failures keep LiteLLM's own answer"
