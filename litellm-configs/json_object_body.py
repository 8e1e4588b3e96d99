"""A JSON request body that is not an object gets a 400 saying so, instead of LiteLLM's 500.

LiteLLM 1.108.7 parses the body before authenticating and then reads it as an object
(`request_data.get("model")`), so `[1, 2]`, `"hi"` or `42` end in a plain-text
"Internal Server Error" before any hook can look at them. Its auth already turns a body that
does not parse into a 400 after authenticating the caller; `install()` makes a body that
parses to anything but an object fail the same way, with the same kind of message.
"""

from __future__ import annotations

import logging
from typing import Any

from litellm.proxy._types import ProxyException
from litellm.proxy.auth import user_api_key_auth

from request_checks import describe

log = logging.getLogger("dynamic_model_router")


def not_an_object(body: Any) -> ProxyException:
    return ProxyException(
        message=f"invalid request: the request body must be a JSON object, got {describe(body)}",
        type="invalid_request_error",
        param="request_body",
        code=400,
    )


def install() -> None:
    """Wrap the body reader LiteLLM's auth uses; once per process, however often it is called."""
    read = getattr(user_api_key_auth, "read_request_body", None)
    if read is None:
        log.warning(
            "LiteLLM has no user_api_key_auth.read_request_body: bodies that are not objects get its 500"
        )
        return
    if getattr(read, "checks_json_object", False):
        return

    async def read_object(request: Any) -> Any:
        body = await read(request=request)
        if not isinstance(body, dict):
            raise not_an_object(body)
        return body

    read_object.checks_json_object = True  # type: ignore[attr-defined]
    user_api_key_auth.read_request_body = read_object
