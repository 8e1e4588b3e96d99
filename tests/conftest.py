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


# The fewest tests each folder may collect in a whole run: a test lost to a renamed file, an emptied
# parametrize list or a collection mistake fails the run instead of passing unnoticed. Raise these
# as tests are added.
MINIMUM_COLLECTED = {"unit": 431, "chart": 147, "integration": 113, "training": 4}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail a whole run (no file, -k or -m chosen) that collects fewer tests than expected."""
    config = session.config
    if config.option.keyword or config.option.markexpr or config.args != config.getini("testpaths"):
        return
    counts = {folder: 0 for folder in MINIMUM_COLLECTED}
    for item in session.items:
        folder = item.path.relative_to(config.rootpath / "tests").parts[0]
        counts[folder] = counts.get(folder, 0) + 1
    short = {f: f"{counts[f]} < {n}" for f, n in MINIMUM_COLLECTED.items() if counts[f] < n}
    if short:
        raise pytest.UsageError(f"fewer tests collected than expected (tests/conftest.py): {short}")
