"""LiteLLM callback that turns away requests the models cannot serve, before routing.

Registered in the proxy config before the router
(`dynamic_model_router.request.guards.proxy_guard_instance`); each refusal is counted by its check:
- a malformed chat request gets a 400 naming what is wrong (validation), at once, where
  LiteLLM and vLLM would answer about something else after seconds of retries;
- a request with a field out of its range, or one a client may never send (its own chat
  template), gets a 400 naming it (fields; the body reader also refuses fields the API does not
  take, before LiteLLM adds its own);
- an embeddings request gets a 400: the models are chat models;
- a request body over MAX_REQUEST_BODY_MB gets a 413, and one that is not a JSON object a 400,
  before LiteLLM holds or parses it (body, installed when this callback is built);
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
from dynamic_model_router.request import body, fields, validation
from dynamic_model_router.request.fields import API_OF_CALL, Limits, Refusal
from dynamic_model_router.request.messages import CHAT_CALLS, EMBEDDING_CALLS

NO_EMBEDDINGS = (
    "this proxy serves chat models only (/v1/chat/completions, /v1/completions, /v1/responses); "
    "it has no embedding model"
)
UNAVAILABLE = "the model server (vLLM) is unavailable; try again in a moment"
RETRY_AFTER_S = "10"


class RequestGuards(CustomLogger):
    def __init__(self, max_body_bytes: int, limits: Limits):
        super().__init__()
        self.limits = limits
        body.install(max_body_bytes, limits)
        for refusal in Refusal:
            metrics.REQUESTS_REFUSED.labels(check=str(refusal))

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any
    ) -> dict:
        if not isinstance(data, dict):
            return data
        if call_type in CHAT_CALLS and (found := validation.problem(data)):
            raise refused(Refusal.MALFORMED, f"invalid chat request: {found}")
        api = API_OF_CALL.get(call_type)
        # LiteLLM has added fields of its own by now: the known ones are checked here (the body
        # reader refused the unknown ones as the client sent them).
        if api is not None and (problem := fields.problem(data, api, self.limits, others_allowed=True)):
            raise refused(problem[0], f"invalid request: {problem[1]}")
        if call_type in EMBEDDING_CALLS:
            # vLLM would answer 404 after LiteLLM logged a traceback; the reason is simpler.
            raise refused(Refusal.EMBEDDINGS, NO_EMBEDDINGS)
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


def refused(refusal: Refusal, detail: str) -> HTTPException:
    metrics.REQUESTS_REFUSED.labels(check=str(refusal)).inc()
    return HTTPException(status_code=400, detail=detail)


def from_environment() -> RequestGuards:
    """The guards with the body limit MAX_REQUEST_BODY_MB and the field limits (fields.py) the
    environment sets; a setting that is wrong stops the proxy with a line saying what to fix."""
    router_log.setup()
    try:
        return RequestGuards(body.max_body_bytes(os.environ), Limits.from_environment(os.environ))
    except ValueError as e:
        log.critical("the proxy will not become ready: %s", e)
        raise


proxy_guard_instance = from_environment()
