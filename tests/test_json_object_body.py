"""The body reader LiteLLM's auth uses, wrapped: JSON that is not an object becomes a 400."""

from __future__ import annotations

import asyncio

import pytest
from litellm.proxy._types import ProxyException
from litellm.proxy.auth import user_api_key_auth
from starlette.requests import Request

import json_object_body


def read(body: bytes) -> object:
    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    return asyncio.run(user_api_key_auth.read_request_body(request=Request(scope, receive)))


@pytest.fixture(autouse=True)
def installed():
    original = user_api_key_auth.read_request_body
    json_object_body.install()
    json_object_body.install()  # a second call must not wrap twice
    yield
    user_api_key_auth.read_request_body = original


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[1, 2]", "a list"), (b'"hello"', "a string"), (b"42", "a number"), (b"null", "null")],
)
def test_json_that_is_not_an_object_is_refused_with_a_400_naming_what_it_is(body: bytes, kind: str):
    with pytest.raises(ProxyException) as refused:
        read(body)
    assert str(refused.value.code) == "400"
    assert refused.value.message == f"invalid request: the request body must be a JSON object, got {kind}"


def test_objects_and_empty_bodies_are_read_as_before():
    assert read(b'{"model": "auto", "messages": []}') == {"model": "auto", "messages": []}
    assert read(b"") == {}


def test_install_wraps_the_reader_once():
    wrapped = user_api_key_auth.read_request_body
    json_object_body.install()
    assert user_api_key_auth.read_request_body is wrapped
    assert getattr(wrapped, "checks_json_object", False)
