"""The body reader LiteLLM's auth uses, wrapped: bodies over the limit get a 413 before they are
read, JSON that is not an object a 400."""

from __future__ import annotations

import asyncio

import pytest
from litellm.proxy._types import ProxyException
from litellm.proxy.auth import user_api_key_auth
from starlette.requests import Request

from dynamic_model_router.request import body
from dynamic_model_router.request.fields import Limits

LIMIT = 1024


# Bytes the reader took from the client in the last read().
received: list[int] = [0]


def read(
    body: bytes,
    chunks: int = 1,
    headers: list[tuple[bytes, bytes]] | None = None,
    path: str = "/v1/chat/completions",
) -> tuple[object, int]:
    """What the wrapped reader returns for this body, and how many bytes it took from the client."""
    size = -(-len(body) // chunks) if body else 1
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    received[:] = [0]

    async def receive() -> dict:
        part = parts.pop(0) if parts else b""
        received[0] += len(part)
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    given = headers if headers is not None else [(b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", b"application/json"), *given],
        "query_string": b"",
    }
    result = asyncio.run(user_api_key_auth.read_request_body(request=Request(scope, receive)))
    return result, received[0]


def refused(body: bytes, **kwargs) -> ProxyException:
    with pytest.raises(ProxyException) as caught:
        read(body, **kwargs)
    return caught.value


@pytest.fixture(autouse=True)
def installed():
    original = getattr(user_api_key_auth.read_request_body, "unchecked", user_api_key_auth.read_request_body)
    body.install(LIMIT, Limits())
    body.install(LIMIT, Limits())  # a second call replaces the wrapper, never wraps it again
    yield
    user_api_key_auth.read_request_body = original
    body.install(body.max_body_bytes(), Limits.from_environment())


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[1, 2]", "a list"), (b'"hello"', "a string"), (b"42", "a number"), (b"null", "null")],
)
def test_json_that_is_not_an_object_is_refused_with_a_400_naming_what_it_is(body: bytes, kind: str):
    error = refused(body)
    assert str(error.code) == "400"
    assert error.message == f"invalid request: the request body must be a JSON object, got {kind}"


def test_objects_and_empty_bodies_are_read_as_before():
    assert read(b'{"model": "auto", "messages": []}')[0] == {"model": "auto", "messages": []}
    assert read(b"")[0] == {}


def test_a_body_whose_length_is_over_the_limit_is_refused_with_a_413_before_it_is_read():
    body = b'{"model": "auto", "text": "' + b"x" * (3 * LIMIT) + b'"}'
    error = refused(body, chunks=4)
    assert str(error.code) == "413"
    assert error.message.startswith(
        f"request body of {len(body)} bytes is over this proxy's limit of 1024 bytes"
    )
    assert "MAX_REQUEST_BODY_MB" in error.message
    assert received == [0], "the body was read before it was refused"


def test_a_streamed_body_is_refused_once_it_passes_the_limit_and_read_whole_below_it():
    big = b'{"text": "' + b"x" * (3 * LIMIT) + b'"}'
    chunked = [(b"transfer-encoding", b"chunked")]
    error = refused(big, chunks=8, headers=chunked)
    assert str(error.code) == "413" and "streamed" in error.message
    assert received[0] < len(big), "the whole streamed body was read before it was refused"
    small = b'{"model": "auto", "messages": []}'
    assert read(small, chunks=3, headers=chunked) == ({"model": "auto", "messages": []}, len(small))


def test_a_body_at_the_limit_is_read():
    body = b'{"user": "' + b"x" * (LIMIT - 13) + b'"}'
    assert len(body) == LIMIT - 1
    assert read(body)[0] == {"user": "x" * (LIMIT - 13)}


@pytest.mark.parametrize(
    ("value", "expected"), [("", int(8 * 1024 * 1024)), ("0.5", 512 * 1024), (" 16 ", 16 * 1024 * 1024)]
)
def test_the_limit_comes_from_max_request_body_mb(value: str, expected: int):
    assert body.max_body_bytes({"MAX_REQUEST_BODY_MB": value}) == expected


@pytest.mark.parametrize("value", ["0", "-1", "ten", "nan", "inf"])
def test_a_limit_that_is_no_size_is_refused_naming_the_variable(value: str):
    with pytest.raises(ValueError, match="MAX_REQUEST_BODY_MB must be a number of megabytes above 0"):
        body.max_body_bytes({"MAX_REQUEST_BODY_MB": value})


def test_a_field_the_api_does_not_take_is_refused_as_the_client_sent_it_with_a_400_naming_it():
    error = refused(b'{"model": "auto", "messages": [], "chat_template": "{{ 7*7 }}"}')
    assert error.code == "400" and "field 'chat_template' is not accepted" in error.message, error.message
    error = refused(b'{"model": "auto", "messages": [], "guided_regex": "(a+)+$"}', path="/v1/completions")
    assert error.code == "400" and "the completions API takes" in error.message, error.message


def test_bodies_of_other_paths_are_not_held_to_an_apis_fields():
    result, _ = read(b'{"anything": 1}', path="/key/generate")
    assert result == {"anything": 1}
