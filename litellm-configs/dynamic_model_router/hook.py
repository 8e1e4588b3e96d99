"""LiteLLM hook: requests for the virtual model go to the model the router picks.

Built by the entry point litellm-configs/custom_router.py (`custom_router.proxy_handler_instance`
in the proxy config), after the request guards (request/guards.py), which turn away what cannot
be served. Only requests naming the
virtual model (`auto`) are routed, through any of the chat, completions and Responses APIs;
any other model passes through unchanged. The routes file is SEMANTIC_ROUTES_FILE, or
the shipped routes.yaml (shipped.py); it is checked for edits every SEMANTIC_ROUTES_CHECK_SECONDS
(default 1). A candidate router in the file decides beside the live one, off the request's path
(runtime/shadow.py). Whoever chose the model, each model LiteLLM calls is asked the way the routes file's
`prompts` say (request/prompt_format.py), with earlier replies as the models wrote them
(reply/history.py), and its replies shown that way (reply/).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable, Collection
from typing import Any, Protocol

from litellm.constants import RETURN_RAW_MODEL_NAME_METADATA_KEY
from litellm.integrations.custom_logger import CustomLogger

from dynamic_model_router import log as router_log
from dynamic_model_router.decide.decider import RouteDecider, served_only
from dynamic_model_router.decide.decision import METADATA_KEY, Decision, Reason
from dynamic_model_router.log import log
from dynamic_model_router.observe import client_notice, metrics
from dynamic_model_router.reply import history, presenter
from dynamic_model_router.request import prompt_format
from dynamic_model_router.request.messages import CHAT_CALLS, chat_messages
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, PromptConfig, RoutesError
from dynamic_model_router.runtime import adapters
from dynamic_model_router.runtime.live_routes import LiveRoutes
from dynamic_model_router.runtime.shadow import Shadow

ServedModels = Callable[[], Collection[str] | None]


class Routes(Protocol):
    """Where the hook gets its decider: LiveRoutes in the proxy, anything alike in tests."""

    decider: RouteDecider
    # A candidate router deciding beside this one, if the routes file has one.
    shadow: Shadow | None

    def refresh(self) -> None: ...

    def unavailable(self) -> dict[str, str]: ...


class SemanticRouterHook(CustomLogger):
    def __init__(self, routes: Routes, served_models: ServedModels):
        super().__init__()
        self.routes = routes
        self.served_models = served_models

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any
    ) -> dict:
        decider = self.routes.decider
        virtual_model = decider.config.virtual_model
        if not isinstance(data, dict) or data.get("model") != virtual_model:
            return data
        self.routes.refresh()
        messages = chat_messages(data, call_type)
        decision = await self._decide(decider, messages)
        if self.routes.shadow is not None:
            self.routes.shadow.submit(messages, decision)
        data["model"] = decision.model
        if not isinstance(data.get("metadata"), dict):
            data["metadata"] = {}
        # LiteLLM rewrites the response's `model` to the name the client asked for (`auto`);
        # RETURN_RAW_MODEL_NAME, which LiteLLM's own complexity router sets too, keeps the answering one.
        data["metadata"].update(
            {
                "requested_model": virtual_model,
                RETURN_RAW_MODEL_NAME_METADATA_KEY: True,
                METADATA_KEY: decision.to_metadata(),
            }
        )
        metrics.observe(decision, virtual_model)
        return data

    async def _decide(self, decider: RouteDecider, messages: Any) -> Decision:
        try:
            decision = await decider.adecide(messages)
        except Exception as e:  # routing must never fail a request: the base model answers
            log.error("routing failed, using %s: %s", decider.config.default_model, type(e).__name__)
            decision = Decision(decider.config.default_model, None, None, Reason.ERROR)
        served = self.served_models()
        if served is None or decision.model in served:
            return decision
        # Only a decision for a model the proxy does not serve asks which runtime adapters are down.
        unavailable = self.routes.unavailable()
        decision = served_only(decision, served, decider.config, unavailable)
        if decision.wanted is not None:
            metrics.observe_unavailable(decision.wanted, decision.model, unavailable[decision.wanted])
        return decision

    def _prompt(self, model: Any) -> PromptConfig | None:
        """How the routes file says this model is asked, if it says."""
        return self.routes.decider.config.prompts.get(model) if isinstance(model, str) else None

    async def async_pre_call_deployment_hook(self, kwargs: dict, call_type: Any) -> dict | None:
        # Runs for each model LiteLLM tries, fallbacks included: each is asked its own way, with
        # the conversation's earlier replies as the models wrote them.
        if getattr(call_type, "value", call_type) not in CHAT_CALLS:
            return None
        self.routes.refresh()
        shaped = history.as_written(kwargs)
        prompt = self._prompt(model_group(kwargs))
        if prompt is not None:
            shaped = prompt_format.shape(shaped, prompt)
        return shaped if shaped is not kwargs else None

    def _reply(self, request_data: dict, response: Any) -> str:
        """How the reply of the model that answered is shown ("plain" when the client asked raw)."""
        if client_notice.request_header(request_data, presenter.RAW_HEADER) == presenter.RAW:
            return "plain"
        prompt = self._prompt(client_notice.answered_by(response) or request_data.get("model"))
        return prompt.reply if prompt is not None else "plain"

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> Any:
        presenter.present_response(response, self._reply(data, response))
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict
    ) -> AsyncGenerator[Any, None]:
        decision = Decision.from_request(request_data)
        if decision is not None and client_notice.wants_notice(request_data):
            yield client_notice.status_event(client_notice.answered_by(response) or decision.model)
        folder = presenter.folder_for(self._reply(request_data, response))
        chunks = response if folder is None else presenter.present_stream(response, folder)
        async for chunk in chunks:
            yield chunk

    async def async_post_call_response_headers_hook(
        self,
        data: dict,
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict | None = None,
        litellm_call_info: Any = None,
    ) -> dict[str, str] | None:
        decision = Decision.from_request(data)
        if decision is None:
            return None
        fallback = client_notice.answered_by(response)
        if fallback is not None and fallback != decision.model:
            metrics.observe_unavailable(decision.model, fallback)
        return client_notice.response_headers(decision, fallback)


def model_group(kwargs: dict) -> Any:
    """The model name a call to one deployment is for (`dcot`), as the proxy's config lists it."""
    for key in ("metadata", "litellm_metadata"):
        metadata = kwargs.get(key)
        if isinstance(metadata, dict) and isinstance(metadata.get("model_group"), str):
            return metadata["model_group"]
    return None


def served_models() -> set[str] | None:
    """The model names LiteLLM's router serves, or None before it is set up."""
    from litellm.proxy import proxy_server

    router = getattr(proxy_server, "llm_router", None)
    return set(router.get_model_names()) if router is not None else None


def from_environment() -> SemanticRouterHook:
    """The hook for the routes file the environment names, reloaded live."""
    router_log.setup()
    routes_file = os.environ.get("SEMANTIC_ROUTES_FILE", DEFAULT_ROUTES_FILE)
    try:
        routes = LiveRoutes(
            routes_file,
            float(os.environ.get("SEMANTIC_ROUTES_CHECK_SECONDS", "1")),
            served_models,
            adapters.from_environment(),
        )
    except RoutesError as e:
        # LiteLLM follows this with a long traceback and exits; this line says what to fix.
        log.critical("the semantic router cannot start, so the proxy will not become ready: %s", e)
        raise
    return SemanticRouterHook(routes, served_models)
