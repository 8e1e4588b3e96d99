"""The router's logger: one name, one format, structured event lines that never hold prompt text."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

LOGGER_NAME = "dynamic_model_router"
LEVEL_ENV = "SEMANTIC_ROUTER_LOG_LEVEL"
log = logging.getLogger(LOGGER_NAME)


def setup(level: str | None = None) -> None:
    """Give the logger a handler of its own (LiteLLM configures only its own loggers, so without
    one our INFO lines would vanish), at `level` or SEMANTIC_ROUTER_LOG_LEVEL (default INFO).
    Raises ValueError for a level logging does not know."""
    level = level or os.environ.get(LEVEL_ENV) or "INFO"
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(level.upper())


def event(level: int, name: str, **fields: Any) -> None:
    """One JSON line an operator can grep for (`"event": "<name>"`) and a program can parse."""
    log.log(level, json.dumps({"event": name, **fields}))
