"""Keeps a RouteDecider in step with its routes file while the proxy runs.

A mounted ConfigMap is updated in place (kubelet swaps a symlink), so the file is
re-read when its identity (inode, size, mtime) changes, once it has stayed the same for a
moment: a file written in place (an editor, `cp`) can be read half-written, and a half that
parses would drop the routes after it. The new decider is built in a worker thread while the
old one keeps answering; a broken edit (including one that sends requests to a model the
proxy does not serve) is logged once and the last good routes keep serving.

With runtime adapters on (runtime_adapters.py), a background task checks the file every interval
too (an edit counts without a request coming) and keeps the adapters the routes name loaded: a
route may name an adapter whose folder is in the runtime adapters volume, and a reload refuses
only names that are neither served nor there.

The file's candidate (routes_file.candidate) gets a Shadow (shadow.py) that decides beside the live
decider. It is checked after the live routes and on its own: a broken candidate is logged and
counted, and the live routes load and serve as if it were not there. A decider or encoder already
built for the same settings is reused, so promoting a candidate (its settings become the live
ones) swaps in what is already loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Collection
from pathlib import Path

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.encoding.encoder import EncoderError
from dynamic_model_router.log import log
from dynamic_model_router.observe import review_sample
from dynamic_model_router.observe.metrics import (
    CANDIDATE_REJECTED,
    ENCODER_REJECTED,
    RELOADS,
    ROUTES_FILE_REJECTED,
    known_pairs,
    known_routes,
)
from dynamic_model_router.routes_file import Candidate, RoutesConfig, candidate, check_served, load_routes
from dynamic_model_router.runtime.adapters import RuntimeAdapters
from dynamic_model_router.runtime.shadow import Shadow

Stamp = tuple[int, int, int] | None
# How long a changed file must stay unchanged before it is read.
SETTLE_S = 0.25


def _routing(config: RoutesConfig) -> RoutesConfig:
    """The settings a decider is built from (the candidate is not one of them)."""
    return config.model_copy(update={"candidate": None})


def _stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class LiveRoutes:
    """The current decider for a routes file; `await refresh()` picks up edits."""

    def __init__(
        self,
        path: str | Path,
        check_interval_s: float = 1.0,
        served_models: Callable[[], Collection[str] | None] = lambda: None,
        adapters: RuntimeAdapters | None = None,
    ):
        self.path = Path(path)
        self.check_interval_s = check_interval_s
        # The models the proxy serves, once it knows them (None: unknown, nothing to check).
        self.served_models = served_models
        self.adapters = adapters
        self._adapters_task: asyncio.Task[None] | None = None
        self._stamp = _stamp(self.path)
        # The first load fails loudly: a proxy must not start with routes it cannot read.
        self._config = load_routes(self.path)
        self.decider = RouteDecider(_routing(self._config))
        known_routes(self.config)
        self.shadow: Shadow | None = None
        self._shadow_for(self._config, None, [self.decider])
        log.info(
            "semantic router ready: %s routes %s from %s",
            self.config.virtual_model,
            [r.name for r in self.config.routes],
            self.path,
        )
        self._checked_at = time.monotonic()
        self._reload_task: asyncio.Task[bool] | None = None
        # LiteLLM builds the callbacks inside its start-up, where a loop runs: the adapters the
        # routes name load at once. Elsewhere (scripts, tests) the first refresh() starts it.
        with contextlib.suppress(RuntimeError):
            self._start_keeping_adapters(asyncio.get_running_loop())

    @property
    def config(self) -> RoutesConfig:
        return self._config

    def runtime_models(self) -> set[str]:
        """The models the routes name that only runtime adapters can serve."""
        if self.adapters is None:
            return set()
        served = self.served_models()
        static = set(served or ()) - set(self.adapters.loaded)
        return {m for r in self.config.routes for m in r.models} - static - {self.config.default_model}

    def unavailable(self) -> dict[str, str]:
        """Runtime adapters the routes name that are not served now, and why."""
        return self.adapters.unavailable(self.runtime_models()) if self.adapters else {}

    async def _keep_adapters(self) -> None:
        """Every check interval: the routes file (edits count without a request coming), then the
        runtime adapters the routes name."""
        assert self.adapters is not None
        while True:
            try:
                self.refresh()
                if self._reload_task is not None:
                    await self._reload_task
                await self.adapters.sync(self.runtime_models(), self.config.default_model)
            except Exception as e:  # the next round tries again; routing goes on meanwhile
                log.error("runtime adapters check failed: %s: %s", type(e).__name__, e)
            await asyncio.sleep(self.check_interval_s)

    def _start_keeping_adapters(self, loop: asyncio.AbstractEventLoop) -> None:
        """Keep the adapters in this loop, unless a task does already (a task of a loop that has
        gone, or one that ended, is replaced)."""
        task = self._adapters_task
        if self.adapters is not None and (task is None or task.done() or task.get_loop() is not loop):
            self._adapters_task = loop.create_task(self._keep_adapters())

    def refresh(self) -> None:
        """Start a reload in the background if the file changed; never blocks the caller."""
        self._start_keeping_adapters(asyncio.get_running_loop())
        now = time.monotonic()
        if now - self._checked_at < self.check_interval_s:
            return
        self._checked_at = now
        if self._reload_task is not None and not self._reload_task.done():
            return
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return
        self._reload_task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._reload_when_still, stamp)
        )

    def _reload_when_still(self, stamp: Stamp) -> bool:
        """reload() if the file is as it was SETTLE_S ago; if it is still being written, nothing
        now (the stamp stays old, so the next check tries again)."""
        time.sleep(SETTLE_S)
        if _stamp(self.path) != stamp:
            return False
        return self.reload(stamp)

    def reload(self, stamp: Stamp = None) -> bool:
        """Rebuild the decider from the file now; on failure keep the current one. Then the
        candidate's shadow, which never touches the live routes."""
        self._stamp = stamp if stamp is not None else _stamp(self.path)
        started = time.perf_counter()
        served: set[str] | None = None
        built = self._built()
        try:
            config = load_routes(self.path)
            if (models := self.served_models()) is not None:
                served = {*models, *(self.adapters.present() if self.adapters else ())}
                check_served(config, served, str(self.path))
            decider = self._decider_for(_routing(config), built)
        except Exception as e:  # any failure must leave the last good routes serving
            log.error(
                "routes reload failed, keeping the last good routes (%d routes): %s",
                len(self.config.routes),
                e,
            )
            RELOADS.labels(result="failure").inc()
            ROUTES_FILE_REJECTED.set(1)
            if isinstance(e, EncoderError):
                ENCODER_REJECTED.labels(role="live", problem=e.problem).inc()
            return False
        if self.shadow is not None and decider is self.shadow.decider:
            self._replace_shadow(None, None)  # promoted: it leaves the shadow's thread first
        decider.encoder.executor = None  # type: ignore[attr-defined]
        self.decider, self._config = decider, config
        known_routes(config)
        RELOADS.labels(result="success").inc()
        ROUTES_FILE_REJECTED.set(0)
        log.info(
            "routes reloaded from %s: %d routes, %d utterances in %.0f ms",
            self.path,
            len(config.routes),
            sum(len(r.utterances) for r in config.routes),
            (time.perf_counter() - started) * 1000,
        )
        self._shadow_for(config, served, built)
        return True

    def _built(self) -> list[RouteDecider]:
        """The deciders already built: the live one, and the shadow's."""
        return [self.decider, *([self.shadow.decider] if self.shadow else [])]

    @staticmethod
    def _decider_for(
        config: RoutesConfig, built: list[RouteDecider], not_this: RouteDecider | None = None
    ) -> RouteDecider:
        """One of `built` made for the same settings (but `not_this`), else a new one on an encoder
        already loaded for the same encoder settings, else on a new encoder."""
        for decider in built:
            if decider.config == config and decider is not not_this:
                return decider
        encoder = next((d.encoder for d in built if d.config.encoder == config.encoder), None)
        return RouteDecider(config, encoder)

    def _shadow_for(
        self, config: RoutesConfig, served: Collection[str] | None, built: list[RouteDecider]
    ) -> None:
        """Start, keep, replace or stop the shadow for the file's candidate, reusing what is
        `built`; never raises."""
        try:
            found = candidate(config, str(self.path))
            if found is not None and served is not None:
                check_served(found.config, served, f"{self.path}: candidate {found.name!r}")
            wanted = found if found is not None and found.shadow else None
            kept = wanted is not None and self.shadow is not None and self.shadow.candidate == wanted
            # Never the live decider itself: the two run on different threads.
            decider = (
                self._decider_for(wanted.config, [*built, self.decider], self.decider)
                if wanted and not kept
                else None
            )
        except Exception as e:  # a broken candidate stops the shadow, never the live routes
            log.error("candidate refused, no shadow decisions; the live routes serve as ever: %s", e)
            CANDIDATE_REJECTED.set(1)
            if isinstance(e, EncoderError):
                ENCODER_REJECTED.labels(role="candidate", problem=e.problem).inc()
            self._replace_shadow(None, None)
            return
        CANDIDATE_REJECTED.set(0)
        if not kept:
            self._replace_shadow(wanted, decider)
        if wanted is not None:
            # Every pair starts at zero, a kept candidate's pairs with a live edit's new routes too.
            known_pairs(wanted.name, config, wanted.config)

    def _replace_shadow(self, wanted: Candidate | None, decider: RouteDecider | None) -> None:
        old, self.shadow = self.shadow, None
        if old is not None:
            old.close()
        if wanted is None or decider is None:
            return
        review = (
            review_sample.from_environment(wanted.name, wanted.config.max_chars) if wanted.review else None
        )
        shadow = Shadow(wanted, decider, review)
        if decider.encoder is not self.decider.encoder:
            decider.encoder.executor = shadow.executor  # type: ignore[attr-defined]
        self.shadow = shadow
        log.info(
            "shadow decisions by candidate %s%s",
            wanted.name,
            " (disagreements to the review sample)" if review else "",
        )
