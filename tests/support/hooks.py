"""The hook over a decider of a test's choosing, as LiveRoutes would hand it one."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.hook import SemanticRouterHook


def hook_with(
    decider: RouteDecider,
    served: set[str] | None = None,
    unavailable: Callable[[], dict[str, str]] = dict,
    shadow: Any = None,
) -> SemanticRouterHook:
    """A hook deciding with `decider`, for a proxy that serves `served` (None: unknown)."""
    routes = SimpleNamespace(decider=decider, refresh=lambda: None, unavailable=unavailable, shadow=shadow)
    return SemanticRouterHook(routes, lambda: served)
