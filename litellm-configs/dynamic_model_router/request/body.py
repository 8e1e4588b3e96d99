"""The raw request body, checked where LiteLLM's auth reads it: its size, that it is an object, and
its fields (request/fields.py), as the client sent them, before LiteLLM adds its own.

LiteLLM 1.108.7 reads and parses the whole body before it authenticates the caller, and
then reads it as an object:
- a body of any size is held in memory and parsed (two 200 MB chats took the proxy from
  0.6 GB to 3.1 GB, past the pod's 2 GiB limit), so a body over MAX_REQUEST_BODY_MB (default
  8) is refused with a 413 before it is read, from its Content-Length, or while it streams;
- `[1, 2]`, `"hi"` or `42` ended in a plain-text 500 before any hook could look at them, so a
  body that is not a JSON object gets a 400 naming what it is;
- a field the API does not take here, or a value out of its range, gets a 400 naming the field.
Each refusal is counted by its check (semantic_router_requests_refused_total). All fail the way
LiteLLM's auth fails a body that does not parse: after its key check runs, with the body's error
answered first (as LiteLLM answers invalid JSON, even without a key).
"""

from __future__ import annotations

import os
from typing import Any

from litellm.proxy._types import ProxyException
from litellm.proxy.auth import user_api_key_auth

from dynamic_model_router.log import log
from dynamic_model_router.observe import metrics
from dynamic_model_router.request import fields
from dynamic_model_router.request.fields import Limits, Refusal
from dynamic_model_router.request.validation import describe

MAX_BODY_ENV = "MAX_REQUEST_BODY_MB"
DEFAULT_MAX_BODY_MB = 8.0
_MB = 1024 * 1024


def max_body_bytes(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """The body limit MAX_REQUEST_BODY_MB sets; raises ValueError naming the variable if it is not a size."""
    given = environ.get(MAX_BODY_ENV, "").strip()
    try:
        megabytes = float(given) if given else DEFAULT_MAX_BODY_MB
    except ValueError:
        megabytes = -1.0
    if not megabytes > 0 or megabytes == float("inf"):
        raise ValueError(f"{MAX_BODY_ENV} must be a number of megabytes above 0, got {given!r}")
    return int(megabytes * _MB)


def _error(message: str, code: int, refusal: Refusal) -> ProxyException:
    metrics.REQUESTS_REFUSED.labels(check=str(refusal)).inc()
    return ProxyException(message=message, type="invalid_request_error", param="request_body", code=code)


def _size(n: int) -> str:
    return f"{round(n / _MB, 1):g} MB" if n >= _MB // 10 else f"{n} bytes"


def too_large(size: int | None, limit: int) -> ProxyException:
    what = f"of {_size(size)}" if size is not None else "streamed so far"
    return _error(
        f"request body {what} is over this proxy's limit of {_size(limit)} "
        f"({MAX_BODY_ENV}; the chart's litellm.maxRequestBodyMB)",
        413,
        Refusal.BODY_TOO_LARGE,
    )


def not_an_object(body: Any) -> ProxyException:
    return _error(
        f"invalid request: the request body must be a JSON object, got {describe(body)}",
        400,
        Refusal.NOT_AN_OBJECT,
    )


async def _within_limit(request: Any, limit: int) -> None:
    """Refuse a body over the limit before it is held in memory."""
    length = request.headers.get("content-length")
    if length is not None:
        if length.strip().isdigit() and int(length) > limit:
            raise too_large(int(length), limit)
        return
    if "chunked" not in request.headers.get("transfer-encoding", "").lower():
        return
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(None, limit)
        chunks.append(chunk)
    # Starlette keeps a body read once in `_body`; LiteLLM's own read then gets it from there.
    request._body = b"".join(chunks)


def install(limit: int, limits: Limits) -> None:
    """Wrap the body reader LiteLLM's auth uses; once per process (a later call sets the limits)."""
    read = getattr(user_api_key_auth, "read_request_body", None)
    if read is None:
        log.warning("LiteLLM has no user_api_key_auth.read_request_body: request bodies are not checked")
        return
    read = getattr(read, "unchecked", read)

    async def read_checked(request: Any) -> Any:
        if request is not None and request.method not in ("GET", "HEAD"):
            await _within_limit(request, limit)
        body = await read(request=request)
        if not isinstance(body, dict):
            raise not_an_object(body)
        api = fields.api_of(request.url.path) if request is not None else None
        if api is not None and (found := fields.problem(body, api, limits)):
            raise _error(f"invalid request: {found[1]}", 400, found[0])
        return body

    read_checked.unchecked = read  # type: ignore[attr-defined]
    user_api_key_auth.read_request_body = read_checked
