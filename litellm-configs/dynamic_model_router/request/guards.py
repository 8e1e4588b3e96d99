"""LiteLLM callback that turns away requests the models cannot serve, before routing.

Registered in the proxy config before the router (`request_guards.proxy_guard_instance`):
- a malformed chat request gets a 400 naming what is wrong (request_checks), at once, where
  LiteLLM and vLLM would answer about something else after seconds of retries;
- an embeddings request gets a 400: the models are chat models;
- a request body over MAX_REQUEST_BODY_MB gets a 413, and one that is not a JSON object a 400,
  before LiteLLM holds or parses it (request_body, installed when this callback is built);
- a model server that cannot be reached becomes a 503 with Retry-After.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from dynamic_model_router import log as router_log
from dynamic_model_router.log import log
from dynamic_model_router.observe import metrics
from dynamic_model_router.request import body, validation
from dynamic_model_router.request.messages import CHAT_CALLS, EMBEDDING_CALLS

NO_EMBEDDINGS = (
    "this proxy serves chat models only (/v1/chat/completions, /v1/completions, /v1/responses); "
    "it has no embedding model"
)
UNAVAILABLE = "the model server (vLLM) is unavailable; try again in a moment"
RETRY_AFTER_S = "10"


class RequestGuards(CustomLogger):
    def __init__(self, max_body_bytes: int):
        super().__init__()
        body.install(max_body_bytes)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any
    ) -> dict:
        if not isinstance(data, dict):
            return data
        if call_type in CHAT_CALLS and (found := validation.problem(data)):
            raise HTTPException(status_code=400, detail=f"invalid chat request: {found}")
        if call_type in EMBEDDING_CALLS:
            # vLLM would answer 404 after LiteLLM logged a traceback; the reason is simpler.
            raise HTTPException(status_code=400, detail=NO_EMBEDDINGS)
        return data

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: Any = None,
    ) -> HTTPException | None:
        if not validation.unreachable(original_exception):
            return None
        log.warning("model server unreachable: %s", type(original_exception).__name__)
        metrics.MODEL_SERVER_UNAVAILABLE.inc()
        return HTTPException(status_code=503, detail=UNAVAILABLE, headers={"Retry-After": RETRY_AFTER_S})


def from_environment() -> RequestGuards:
    """The guards with the body limit MAX_REQUEST_BODY_MB sets; a limit that is no size stops the
    proxy with a line saying what to fix."""
    router_log.setup()
    try:
        return RequestGuards(body.max_body_bytes(os.environ))
    except ValueError as e:
        log.critical("the proxy will not become ready: %s", e)
        raise


proxy_guard_instance = from_environment()
