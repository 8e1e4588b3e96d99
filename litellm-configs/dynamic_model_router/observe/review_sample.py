"""The review sample: conversations a candidate router decides differently from the live one, for
people to mark, in the review-file format training/labelled.py reads (`route` null until marked),
so `evaluate`, `propose` and `make train` take it as it is.

Opt-in twice: the routes file's candidate says `review: true`, and the chart mounts a volume at
SEMANTIC_ROUTER_REVIEW_DIR. It holds people's questions, so it is written there and nowhere else
(docs/shadow.md). Each candidate writes `<candidate>-<pod>.jsonl` until the file reaches
SEMANTIC_ROUTER_REVIEW_MAX_MB (default 10), then stops, counted and logged once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

from dynamic_model_router.decide.conversation import text_turns
from dynamic_model_router.decide.decision import Decision
from dynamic_model_router.log import event
from dynamic_model_router.observe.metrics import REVIEW_ROWS

REVIEW_DIR_ENV = "SEMANTIC_ROUTER_REVIEW_DIR"
REVIEW_MAX_MB_ENV = "SEMANTIC_ROUTER_REVIEW_MAX_MB"
DEFAULT_MAX_MB = 10.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    return _UNSAFE.sub("-", name).strip(".-") or "unnamed"


class ReviewSample:
    """Appends disagreements to one size-capped JSONL file."""

    def __init__(self, folder: Path, candidate: str, max_bytes: int, max_chars: int = 2000):
        self.candidate = candidate
        # One file per proxy pod: pods never append to the same file on a shared volume.
        self.path = folder / f"{_safe(candidate)}-{_safe(socket.gethostname())}.jsonl"
        self.max_bytes = max_bytes
        self.max_chars = max_chars
        self._lock = threading.Lock()
        self._full = False
        for result in ("written", "full", "failed"):
            REVIEW_ROWS.labels(candidate=candidate, result=result)

    def add(self, messages: Any, live: Decision, shadow: Decision) -> bool:
        """Write one disagreement; False when the sample is full or the write failed."""
        row = {
            "messages": text_turns(messages, self.max_chars),
            "route": None,
            "live": {"route": live.route, "model": live.model},
            "candidate": {"name": self.candidate, "route": shadow.route, "model": shadow.model},
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                size = self.path.stat().st_size if self.path.exists() else 0
                if size + len(line) > self.max_bytes:
                    return self._count_full(size)
                with self.path.open("ab") as f:
                    f.write(line)
                self._full = False
            except OSError as e:
                REVIEW_ROWS.labels(candidate=self.candidate, result="failed").inc()
                event(logging.ERROR, "review_sample_failed", file=str(self.path), error=type(e).__name__)
                return False
        REVIEW_ROWS.labels(candidate=self.candidate, result="written").inc()
        return True

    def _count_full(self, size: int) -> bool:
        REVIEW_ROWS.labels(candidate=self.candidate, result="full").inc()
        if not self._full:
            self._full = True
            event(
                logging.WARNING,
                "review_sample_full",
                file=str(self.path),
                bytes=size,
                hint=f"move the file away to sample again, or raise {REVIEW_MAX_MB_ENV}",
            )
        return False


def from_environment(candidate: str, max_chars: int) -> ReviewSample | None:
    """The review sample for this candidate, if a review volume is mounted (else None, logged)."""
    folder = os.environ.get(REVIEW_DIR_ENV)
    if not folder:
        event(
            logging.WARNING,
            "review_sample_off",
            candidate=candidate,
            hint=f"the candidate asks for review but no review volume is mounted ({REVIEW_DIR_ENV})",
        )
        return None
    try:
        max_mb = float(os.environ.get(REVIEW_MAX_MB_ENV) or DEFAULT_MAX_MB)
        if not 0 < max_mb < float("inf"):
            raise ValueError
    except ValueError:
        event(logging.WARNING, "review_sample_size", hint=f"{REVIEW_MAX_MB_ENV} is no positive number")
        max_mb = DEFAULT_MAX_MB
    return ReviewSample(Path(folder), candidate, int(max_mb * 1024 * 1024), max_chars)
