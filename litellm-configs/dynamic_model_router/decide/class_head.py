"""The encoder's class head: a softmax regression over a text's embedding, one class per route,
fitted to labelled data (dynamic_model_router.training.head) and kept beside the encoder's model as
head.json. It knows the catch-all as a class of its own, which no list of utterances covers.

The decider adds weight x probability to the utterance vote's score of each route, for a message
on its own (signals/class_head.py). The head was fitted to the routes' utterances as they were: once
an operator edits them (adds a route, moves a message with new utterances), the head would outvote
the edit, so it stays off, with a warning, until it is fitted again to the routes as they are now;
the edit takes effect at once, through the vote alone, as without a head. A head fitted on another
model file than the encoder's would read vectors it was never fitted to: it is left out too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dynamic_model_router.log import event
from dynamic_model_router.routes_file import RoutesConfig

HEAD_FILE = "head.json"
# The class of turns that lean on an earlier message ("and for kids?"): its probability goes to no
# route, so the head says little about such a turn and the conversation's history carries it.
FOLLOW_UP = "(follow-up)"


@dataclass(frozen=True, eq=False)
class ClassHead:
    classes: tuple[str, ...]
    weights: np.ndarray  # classes x dimension
    bias: np.ndarray
    # The weight it was fitted with (the routes file's class_head_weight overrides it).
    weight: float
    encoder_sha256: str
    # routes_fingerprint() of the routes it was fitted to.
    routes_sha256: str

    @classmethod
    def of(cls, record: dict[str, Any]) -> ClassHead:
        weights = np.asarray(record["weights"], dtype=np.float32)
        bias = np.asarray(record["bias"], dtype=np.float32)
        classes = tuple(str(c) for c in record["classes"])
        if weights.ndim != 2 or weights.shape[0] != len(classes) or bias.shape != (len(classes),):
            raise ValueError(
                f"weights {weights.shape} and bias {bias.shape} do not fit {len(classes)} classes"
            )
        return cls(
            classes,
            weights,
            bias,
            float(record["weight"]),
            str(record["encoder_sha256"]),
            str(record["routes_sha256"]),
        )

    def probabilities(self, vector: Sequence[float]) -> dict[str, float]:
        """Each class's probability (the routes', and FOLLOW_UP's)."""
        v = np.asarray(vector, dtype=np.float32)
        logits = self.weights @ (v / (np.linalg.norm(v) or 1.0)) + self.bias
        p = np.exp(logits - logits.max())
        return dict(zip(self.classes, (p / p.sum()).tolist(), strict=True))


def routes_fingerprint(config: RoutesConfig) -> str:
    """What the head depends on in a routes file: each route's name and utterances, in order."""
    routes = [[r.name, list(r.utterances)] for r in config.routes]
    return hashlib.sha256(json.dumps(routes, ensure_ascii=False).encode()).hexdigest()


def usable_head(head: ClassHead | None, config: RoutesConfig) -> ClassHead | None:
    """The head, if it was fitted to these routes' utterances; else None, with a warning."""
    if head is not None and head.routes_sha256 != routes_fingerprint(config):
        event(
            logging.WARNING,
            "class_head_off",
            why="the routes' utterances are not those the class head was fitted to: the vote decides alone",
            hint="fit it again (make train, or python -m dynamic_model_router.training.head)",
        )
        return None
    return head


@lru_cache(maxsize=8)
def load_head(folder: Path, encoder_sha256: str) -> ClassHead | None:
    """The head in an encoder folder, or None: none there, unreadable, or fitted to another model."""
    path = folder / HEAD_FILE
    if not path.is_file():
        return None
    try:
        head = ClassHead.of(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        event(logging.WARNING, "class_head_unusable", file=str(path), error=str(e))
        return None
    if head.encoder_sha256 != encoder_sha256:
        event(
            logging.WARNING,
            "class_head_unusable",
            file=str(path),
            error=f"fitted to model sha256 {head.encoder_sha256[:12]}, not {encoder_sha256[:12]}",
            hint="fit it again: python -m dynamic_model_router.training.head --encoder " + str(folder),
        )
        return None
    return head
