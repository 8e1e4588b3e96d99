"""Labelled routing data: JSONL rows naming the model each message or conversation should reach.

    {"text": "My knee is swollen after a fall", "route": "doctor"}
    {"messages": [{"role": "user", "content": ...}, ...], "route": "dcot"}

A review file exported from Open WebUI's ratings (dynamic_model_router.training.ratings) has the
same shape, with `route` null on the rows nobody has marked yet: those are left out. Plain
Python, so the training environment (which has no router) reads the same files as the evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Item:
    messages: list[dict[str, Any]]
    expected: str
    # Where the row came from, when the file says (the public benchmark's `source`).
    source: str | None = None

    @property
    def text(self) -> str:
        return str(self.messages[-1].get("content", ""))

    @property
    def user_turns(self) -> list[str]:
        return [str(m.get("content", "")) for m in self.messages if m.get("role") == "user"]


@dataclass
class Labelled:
    items: list[Item] = field(default_factory=list)
    # Rows of a review file whose route is not marked yet.
    unlabelled: int = 0


def read_labelled(path: Path) -> Labelled:
    """Every labelled row of a JSONL file; SystemExit naming the file and line of a bad one."""
    found = Labelled()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row["route"] is None:
                found.unlabelled += 1
                continue
            messages = row["messages"] if "messages" in row else [{"role": "user", "content": row["text"]}]
            if not isinstance(messages, list) or not messages:
                raise ValueError("'messages' must be a non-empty list")
            source = row.get("source")
            found.items.append(Item(messages, str(row["route"]), str(source) if source else None))
        except (ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"{path}:{n}: expected {{'text' or 'messages', 'route'}}: {e}") from e
    return found


def read_items(path: Path) -> list[Item]:
    return read_labelled(path).items
