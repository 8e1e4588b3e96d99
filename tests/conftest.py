"""Shared by every test folder: the offline switches, the default routes and their decider, and
the order (tests marked `last` stop the shared local stack, so they run after everything else)."""

from __future__ import annotations

import os

# Before anything imports litellm: otherwise it tries to fetch a cost map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest  # noqa: E402

from dmr_tools.paths import CACHE  # noqa: E402
from dynamic_model_router.encoding.embedding_cache import CACHE_DIR_ENV  # noqa: E402  (imports no litellm)

# The routers the tests build share utterance embeddings, inside the clone (keyed by model and text).
os.environ.setdefault(CACHE_DIR_ENV, str(CACHE / "embeddings"))

from dynamic_model_router.decide.decider import RouteDecider  # noqa: E402
from dynamic_model_router.routes_file import RoutesConfig, load_routes  # noqa: E402


@pytest.fixture(scope="session")
def default_routes() -> RoutesConfig:
    return load_routes()


@pytest.fixture(scope="session")
def decider(default_routes: RoutesConfig) -> RouteDecider:
    return RouteDecider(default_routes)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
