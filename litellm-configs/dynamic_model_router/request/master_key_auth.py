"""Master-key authentication that answers 401, registered as LiteLLM's `custom_auth`.

Without a database, LiteLLM 1.108.7 answers a missing key with 500 ("No module named
'prisma'") and a wrong key with 400 ("No connected db."). Clients and probes expect 401,
so the key is checked here against the master key LiteLLM itself loaded from the config.

LiteLLM's pass-through routes (`/vllm/{endpoint}` and the like) are refused for every caller:
`/vllm/v1/load_lora_adapter` with a served model's name would reach vLLM's runtime adapter API
(LiteLLM forwards any path to that model's server), letting a client load or unload adapters.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth
from litellm.proxy.pass_through_endpoints.llm_passthrough_endpoints import router as passthrough_router

PASS_THROUGH_ROUTES = frozenset(getattr(route, "path", "") for route in passthrough_router.routes)


def _unauthorized(message: str) -> ProxyException:
    return ProxyException(message=message, type=ProxyErrorTypes.auth_error, param="api_key", code=401)


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    from litellm.proxy import proxy_server

    master_key = proxy_server.master_key
    if not master_key:
        # Refuse rather than run an open proxy when the key was not configured.
        raise _unauthorized("The proxy has no master key configured; set LITELLM_MASTER_KEY.")
    if not api_key:
        raise _unauthorized("Missing API key: send 'Authorization: Bearer <key>'.")
    if not hmac.compare_digest(api_key.encode("utf-8"), master_key.encode("utf-8")):
        raise _unauthorized("Invalid API key.")
    route = request.scope.get("route")
    if getattr(route, "path", None) in PASS_THROUGH_ROUTES:
        raise ProxyException(
            message="this proxy passes no requests through to model servers; use /v1/chat/completions, "
            "/v1/completions or /v1/responses",
            type=ProxyErrorTypes.auth_error,
            param="path",
            code=403,
        )
    return UserAPIKeyAuth(api_key=api_key, user_role=LitellmUserRoles.PROXY_ADMIN)
