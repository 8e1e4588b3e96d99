"""Shadow decisions: a candidate router decides each routed request beside the live one, off the
request's path.

The hook hands each live decision and its messages to `Shadow.submit`, which only puts them in a
small queue and returns. One worker thread, at the lowest CPU priority, decides them with the
candidate and records both decisions (metrics, a log line, the review sample on disagreement).
The answer and its latency never depend on it: the worker starts a decision only after the live
router has been quiet for QUIET_S (its Python holds the interpreter lock, so deciding beside live
requests would delay them), and a job that waited longer than MAX_WAIT_S, or finds the queue
full, is dropped and counted. Under load the shadow gives way first; between requests it decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import Decision
from dynamic_model_router.log import log
from dynamic_model_router.observe import metrics
from dynamic_model_router.observe.review_sample import ReviewSample
from dynamic_model_router.routes_file import Candidate

QUEUE_SIZE = 32
MAX_WAIT_S = 2.0
QUIET_S = 0.2
_STOP = object()


def _lowest_priority() -> None:
    # Linux gives each thread its own nice value: the candidate's work waits for any other.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Shadow:
    """Decides with one candidate in the background; `close()` stops it."""

    def __init__(
        self,
        candidate: Candidate,
        decider: RouteDecider,
        review: ReviewSample | None = None,
        queue_size: int = QUEUE_SIZE,
        max_wait_s: float = MAX_WAIT_S,
        quiet_s: float = QUIET_S,
    ):
        self.candidate = candidate
        self.name = candidate.name
        self.decider = decider
        self.review = review
        self.max_wait_s = max_wait_s
        self.quiet_s = quiet_s
        self._last_live = time.monotonic()
        self._jobs: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._closed = False
        # An encoder of its own embeds on its own thread (encoding/encoder.py); one shared with
        # the live decider already holds the message's vector.
        self.executor = ThreadPoolExecutor(1, "shadow-embedding", initializer=_lowest_priority)
        for reason in ("busy", "late", "failed"):
            metrics.SHADOW_DROPPED.labels(candidate=self.name, reason=reason)
        metrics.CANDIDATE_ACTIVE.labels(candidate=self.name).set(1)
        self._thread = threading.Thread(target=self._run, name=f"shadow-{self.name}", daemon=True)
        self._thread.start()

    def submit(self, messages: Any, live: Decision) -> None:
        """Queue one request's messages and live decision; never blocks, never raises."""
        self._last_live = time.monotonic()
        if self._closed or not isinstance(messages, list):
            return
        try:
            self._jobs.put_nowait((time.monotonic(), list(messages), live))
        except queue.Full:
            metrics.SHADOW_DROPPED.labels(candidate=self.name, reason="busy").inc()

    def close(self) -> None:
        """Stop deciding: what is queued is dropped, and the worker ends."""
        self._closed = True
        with contextlib.suppress(KeyError):
            metrics.CANDIDATE_ACTIVE.remove(self.name)
        with contextlib.suppress(queue.Full):  # a full queue wakes the worker anyway
            self._jobs.put_nowait(_STOP)
        self.executor.shutdown(wait=False)

    def join(self, timeout_s: float | None = None) -> None:
        """Wait until the queue is empty (tests, benchmarks)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while (
            self._jobs.unfinished_tasks
            and not self._closed
            and (deadline is None or time.monotonic() < deadline)
        ):
            time.sleep(0.01)

    def _run(self) -> None:
        _lowest_priority()
        loop = asyncio.new_event_loop()
        try:
            while True:
                job = self._jobs.get()
                try:
                    if self._closed or job is _STOP:
                        return
                    self._decide(loop, *job)
                finally:
                    self._jobs.task_done()
        finally:
            loop.close()

    def _quiet_in_time(self, queued: float) -> bool:
        """Wait until the live router has been quiet for quiet_s; False once the job is too old."""
        while True:
            now = time.monotonic()
            if now - queued > self.max_wait_s:
                return False
            if (quiet := now - self._last_live) >= self.quiet_s:
                return True
            time.sleep(self.quiet_s - quiet)

    def _decide(self, loop: asyncio.AbstractEventLoop, queued: float, messages: Any, live: Decision) -> None:
        if not self._quiet_in_time(queued):
            metrics.SHADOW_DROPPED.labels(candidate=self.name, reason="late").inc()
            return
        try:
            shadow = loop.run_until_complete(self.decider.adecide(messages))
        except Exception as e:  # a failing candidate is counted; the live route is long decided
            metrics.SHADOW_DROPPED.labels(candidate=self.name, reason="failed").inc()
            log.error("shadow decision by candidate %s failed: %s", self.name, type(e).__name__)
            return
        metrics.observe_shadow(self.name, live, shadow)
        if self.review is not None and shadow.model != live.model:
            self.review.add(messages, live, shadow)
