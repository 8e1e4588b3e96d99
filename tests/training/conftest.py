"""Training tests: `dynamic_model_router.training.train` run for real, in its own environment
(.venv-train), on a small routes file (tens of seconds each); the router then loads what it wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.training)
