"""LiteLLM hooks: requests for the virtual model go to the model the router picks.

Registered in the proxy config as `callbacks: custom_router.proxy_handler_instance`.
Only requests naming the virtual model (`auto`) are routed, through any of the chat,
completions and Responses APIs; any other model passes through unchanged. Every chat request
is first checked for shape (a 400 names what is wrong), embedding requests get a 400 (the
models are chat models), and an unreachable model server becomes a 503. The routes file is
SEMANTIC_ROUTES_FILE, or routes.yaml beside this file; it is checked for edits every
SEMANTIC_ROUTES_CHECK_SECONDS (default 1).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

# LiteLLM loads this file by path, so its sibling modules are importable only from here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi import HTTPException  # noqa: E402
from litellm.constants import RETURN_RAW_MODEL_NAME_METADATA_KEY  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

import request_body  # noqa: E402
import request_checks  # noqa: E402
from request_messages import CHAT_CALLS, EMBEDDING_CALLS, chat_messages  # noqa: E402
from route_config import DEFAULT_ROUTES_FILE, RoutesError  # noqa: E402
from route_decider import Decision  # noqa: E402
from routes_reloader import LiveRoutes  # noqa: E402
from routing_metrics import DECISION_SECONDS, DECISIONS, UNAVAILABLE_FALLBACKS  # noqa: E402

log = logging.getLogger("dynamic_model_router")
ROUTE_METADATA_KEY = "semantic_route"
ERROR = "error"
# The routed model failed (an adapter vLLM does not serve) and LiteLLM's fallback answered.
UNAVAILABLE = "unavailable"
# A client that sends this header with the value `open-webui` (the chart's Open WebUI does) gets
# the routing decision as an Open WebUI status event before a streamed answer.
NOTICE_HEADER = "x-semantic-route-notice"
NO_EMBEDDINGS = (
    "this proxy serves chat models only (/v1/chat/completions, /v1/completions, /v1/responses); "
    "it has no embedding model"
)


def _setup_logging() -> None:
    # LiteLLM configures only its own loggers; without a handler our INFO lines would vanish.
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(os.environ.get("SEMANTIC_ROUTER_LOG_LEVEL", "INFO"))
        log.propagate = False


class SemanticRouterHook(CustomLogger):
    def __init__(self, routes_file: str | Path, check_interval_s: float):
        super().__init__()
        self.routes = LiveRoutes(routes_file, check_interval_s, served_models)
        log.info(
            "semantic router ready: %s routes %s from %s",
            self.routes.config.virtual_model,
            [r.name for r in self.routes.config.routes],
            routes_file,
        )

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any
    ) -> dict:
        if not isinstance(data, dict):
            return data
        if call_type in CHAT_CALLS and (found := request_checks.problem(data)):
            raise HTTPException(status_code=400, detail=f"invalid chat request: {found}")
        if call_type in EMBEDDING_CALLS:
            # vLLM would answer 404 after LiteLLM logged a traceback; the reason is simpler.
            raise HTTPException(status_code=400, detail=NO_EMBEDDINGS)
        virtual_model = self.routes.config.virtual_model
        if data.get("model") != virtual_model:
            return data
        self.routes.refresh()
        decider = self.routes.decider
        try:
            decision = await decider.adecide(chat_messages(data, call_type))
        except Exception as e:  # routing must never fail a request: the base model answers
            log.error("routing failed, using %s: %s", decider.config.default_model, type(e).__name__)
            decision = Decision(model=decider.config.default_model, route=None, score=None, reason=ERROR)
        served = served_models()
        if served is not None and decision.model not in served:
            decision = _served_instead(decision, served, virtual_model, decider.config.default_model)
        data["model"] = decision.model
        DECISIONS.labels(model=decision.model, reason=decision.reason).inc()
        DECISION_SECONDS.observe(decision.latency_ms / 1000.0)
        if not isinstance(data.get("metadata"), dict):
            data["metadata"] = {}
        data["metadata"]["requested_model"] = virtual_model
        # LiteLLM rewrites the response's `model` to the name the client asked for (`auto`);
        # this flag, which LiteLLM's own complexity router sets too, keeps the model that answered.
        data["metadata"][RETURN_RAW_MODEL_NAME_METADATA_KEY] = True
        data["metadata"][ROUTE_METADATA_KEY] = {
            "model": decision.model,
            "route": decision.route,
            "reason": decision.reason,
            "score": decision.score,
        }
        # One structured line per decision; never the prompt (these are medical questions).
        log.info(
            json.dumps(
                {
                    "event": "route_decision",
                    "requested": virtual_model,
                    "model": decision.model,
                    "route": decision.route,
                    "reason": decision.reason,
                    "score": None if decision.score is None else round(decision.score, 4),
                    "latency_ms": round(decision.latency_ms, 2),
                }
            )
        )
        return data

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict
    ) -> AsyncGenerator[Any, None]:
        route = _route(request_data)
        if route is not None and _wants_notice(request_data):
            model = _fallback_model(response) or route["model"]
            # Raw SSE bytes pass through LiteLLM untouched; Open WebUI shows the event's text
            # above the answer and reads the rest of the stream as usual.
            event = {"type": "status", "data": {"description": f"Answered by {model}", "done": True}}
            yield f"data: {json.dumps({'event': event})}\n\n".encode()
        async for chunk in response:
            yield chunk

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: Any = None,
    ) -> HTTPException | None:
        if not request_checks.unreachable(original_exception):
            return None
        log.warning("model server unreachable: %s", type(original_exception).__name__)
        return HTTPException(
            status_code=503,
            detail="the model server (vLLM) is unavailable; try again in a moment",
            headers={"Retry-After": "10"},
        )

    async def async_post_call_response_headers_hook(
        self,
        data: dict,
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict | None = None,
        litellm_call_info: Any = None,
    ) -> dict[str, str] | None:
        route = _route(data)
        if route is None:
            return None
        headers = {"x-semantic-route": route["model"], "x-semantic-route-reason": route["reason"]}
        if route["score"] is not None:
            headers["x-semantic-route-score"] = f"{route['score']:.4f}"
        answered_by = _fallback_model(response)
        if answered_by is not None and answered_by != route["model"]:
            headers.update(
                {
                    "x-semantic-route": answered_by,
                    "x-semantic-route-reason": UNAVAILABLE,
                    "x-semantic-route-unavailable": route["model"],
                }
            )
            UNAVAILABLE_FALLBACKS.labels(model=route["model"], answered_by=answered_by).inc()
            log.warning(
                json.dumps(
                    {
                        "event": "route_unavailable",
                        "model": route["model"],
                        "answered_by": answered_by,
                        "hint": f"vLLM does not serve {route['model']}: see /v1/models and the vLLM log",
                    }
                )
            )
        return headers


def served_models() -> set[str] | None:
    """The model names LiteLLM's router serves, or None before it is set up."""
    from litellm.proxy import proxy_server

    router = getattr(proxy_server, "llm_router", None)
    return set(router.get_model_names()) if router is not None else None


def _served_instead(decision: Decision, served: set[str], virtual_model: str, default_model: str) -> Decision:
    """The routes name a model the proxy does not serve (a routes file it started with, since a
    reload refuses one): the base model answers, and the log says what to fix."""
    log.error(
        json.dumps(
            {
                "event": "route_model_not_served",
                "model": decision.model,
                "route": decision.route,
                "hint": "fix the routes file: this proxy serves " + ", ".join(sorted(served)),
            }
        )
    )
    # The virtual model itself is served by the base model, so it answers if the default does not.
    model = default_model if default_model in served else virtual_model
    return Decision(model=model, route=None, score=decision.score, reason=ERROR)


def _route(data: Any) -> dict | None:
    """The decision the pre-call hook recorded in the request, if it routed it."""
    metadata = data.get("metadata") if isinstance(data, dict) else None
    route = metadata.get(ROUTE_METADATA_KEY) if isinstance(metadata, dict) else None
    return route if isinstance(route, dict) else None


def _fallback_model(response: Any) -> str | None:
    """The model that answered when LiteLLM fell back from the routed one (router_settings.fallbacks),
    else None. LiteLLM records it in the response's hidden headers."""
    hidden = getattr(response, "_hidden_params", None)
    headers = hidden.get("additional_headers") if isinstance(hidden, dict) else None
    if not isinstance(headers, dict):
        return None
    try:
        attempted = int(headers.get("x-litellm-attempted-fallbacks") or 0)
    except (TypeError, ValueError):
        return None
    model = headers.get("x-litellm-model-group")
    return model if attempted > 0 and isinstance(model, str) and model else None


def _wants_notice(data: dict) -> bool:
    headers = (data.get("proxy_server_request") or {}).get("headers") or {}
    return any(k.lower() == NOTICE_HEADER and v == "open-webui" for k, v in headers.items())


_setup_logging()
try:
    request_body.install(request_body.max_body_bytes())
except ValueError as e:
    log.critical("the proxy will not become ready: %s", e)
    raise
try:
    proxy_handler_instance = SemanticRouterHook(
        os.environ.get("SEMANTIC_ROUTES_FILE", DEFAULT_ROUTES_FILE),
        float(os.environ.get("SEMANTIC_ROUTES_CHECK_SECONDS", "1")),
    )
except RoutesError as e:
    # LiteLLM follows this with a long traceback and exits; this line says what to fix.
    log.critical("the semantic router cannot start, so the proxy will not become ready: %s", e)
    raise
