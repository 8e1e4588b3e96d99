"""Where the project's shipped configuration is: the default routes file, its JSON Schema and the
encoder trained on them. They live in litellm-configs/, beside this package's folder, in a checkout
(the editable install `make setup` makes reads them there); the image copies them to a folder of
its own and names it in SEMANTIC_ROUTER_CONFIG_DIR. Imports nothing of ours.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_DIR_ENV = "SEMANTIC_ROUTER_CONFIG_DIR"
CONFIG_DIR = Path(os.environ.get(CONFIG_DIR_ENV) or Path(__file__).resolve().parents[1])
ROUTES_FILE = CONFIG_DIR / "routes.yaml"
SCHEMA_FILE = CONFIG_DIR / "routes.schema.json"
ENCODER_DIR = CONFIG_DIR / "encoder"
