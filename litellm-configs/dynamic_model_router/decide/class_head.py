"""The encoder's class head: a softmax regression over a text's embedding, one class per route,
fitted to labelled data (dynamic_model_router.training.head) and kept beside the encoder's model as
head.json. It knows the catch-all as a class of its own, which no list of utterances covers.

The decider adds weight x probability to the utterance vote's score of each route, for a message
on its own (signals/class_head.py). The head was fitted to the routes' utterances as they were, and
head.json records them. An operator's edit must count at once, without a new fit, and must not
cost the messages it does not touch (the urgent health messages the head learned keep reaching
`doctor` after any edit). So the head stays on, and only a message an edit touches is decided
without it, by the vote as the edit says:
- utterances added (to a route, or a new route's): a message whose nearest utterances (the vote's
  top_k) hold an added one of the route the vote alone picks, when that route clears its threshold;
- utterances removed (from a route, or a whole route removed; moved or renamed is removed and
  added): a message to which a removed utterance lies as near as its top_k-th nearest utterance
  now, that is one the removed utterance would still have had a say in; the head learned it, and
  would go on pulling such messages where the operator took it away from.
A head.json that does not record its utterances (written before it did) names only their
fingerprint: any edit turns it off, with a warning. A head fitted on another model file than the
encoder's would read vectors it was never fitted to: it is left out too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
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
    # Each route's utterances it was fitted to; None for a head.json that does not record them.
    utterances: Mapping[str, frozenset[str]] | None = None

    @classmethod
    def of(cls, record: dict[str, Any]) -> ClassHead:
        weights = np.asarray(record["weights"], dtype=np.float32)
        bias = np.asarray(record["bias"], dtype=np.float32)
        classes = tuple(str(c) for c in record["classes"])
        if weights.ndim != 2 or weights.shape[0] != len(classes) or bias.shape != (len(classes),):
            raise ValueError(
                f"weights {weights.shape} and bias {bias.shape} do not fit {len(classes)} classes"
            )
        fitted_to = record.get("utterances")
        if fitted_to is not None and not (
            isinstance(fitted_to, dict)
            and all(isinstance(u, list) and all(isinstance(t, str) for t in u) for u in fitted_to.values())
        ):
            raise ValueError("utterances must map each route to a list of texts")
        return cls(
            classes,
            weights,
            bias,
            float(record["weight"]),
            str(record["encoder_sha256"]),
            str(record["routes_sha256"]),
            None if fitted_to is None else {str(r): frozenset(u) for r, u in fitted_to.items()},
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


def utterances_of(config: RoutesConfig) -> dict[str, list[str]]:
    """Each route's utterances, as head.json records those it was fitted to."""
    return {r.name: list(r.utterances) for r in config.routes}


@dataclass(frozen=True)
class Edit:
    """The utterances each route gained and lost since the head was fitted (routes with any)."""

    added: Mapping[str, frozenset[str]]
    removed: Mapping[str, frozenset[str]]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def edit_since_fit(head: ClassHead, config: RoutesConfig) -> Edit | None:
    """The routes' edit since the head was fitted, or None when it cannot be told: the head does
    not record its utterances, and the routes changed."""
    if head.utterances is None:
        return Edit({}, {}) if head.routes_sha256 == routes_fingerprint(config) else None
    now = {route: frozenset(texts) for route, texts in utterances_of(config).items()}
    added = {route: texts - head.utterances.get(route, frozenset()) for route, texts in now.items()}
    removed = {route: texts - now.get(route, frozenset()) for route, texts in head.utterances.items()}
    return Edit(
        {route: texts for route, texts in added.items() if texts},
        {route: texts for route, texts in removed.items() if texts},
    )


def _counted(changed: Mapping[str, frozenset[str]], what: str) -> str:
    return f"{sum(map(len, changed.values()))} {what} (routes {', '.join(sorted(changed))})"


def usable_head(head: ClassHead | None, config: RoutesConfig) -> tuple[ClassHead, Edit] | None:
    """The head with the edit since its fit, if that can be told; else None, with a warning."""
    if head is None:
        return None
    edit = edit_since_fit(head, config)
    if edit is None:
        event(
            logging.WARNING,
            "class_head_off",
            why="the routes' utterances are not those the class head was fitted to (its file does not "
            "record them, so an edit cannot be told apart): the vote decides alone",
            hint="fit it again (make train, or python -m dynamic_model_router.training.head)",
        )
        return None
    if edit:
        changes = [_counted(edit.added, "added")] if edit.added else []
        changes += [_counted(edit.removed, "removed")] if edit.removed else []
        event(
            logging.INFO,
            "class_head_partly_off",
            why=f"utterances changed since the class head was fitted: {' and '.join(changes)}; a "
            "message near one of them is decided without the head",
            hint="fit it again to let the head learn the edit (make train)",
        )
    return head, edit


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
