"""Benchmark shadow decisions and encoder swaps: what a candidate costs the live path.

    make bench-shadow      (or: .venv/bin/python -m dmr_tools.bench.shadow_bench)

1. The hook's decision with the shadow off and on, in-process, rounds alternated. The candidate
   has an encoder of its own (all-MiniLM-L6-v2 as published, exported to int8 ONNX by the training
   code in .venv-train), so the shadow embeds every message a second time.
2. The real LiteLLM proxy at concurrency 16, shadow off and on, in front of an instant backend,
   rounds alternated: throughput and latency.
3. Encoder swaps under load (concurrency 8 through one proxy): seconds from the routes file's edit
   until the proxy counts the reload, and requests that failed across it, for (a) an encoder whose
   folder holds the routes' utterance embeddings (as `make train` leaves it), (b) one without,
   (c) promoting a candidate that was shadowing.
Prints markdown tables; nothing asserts a time (these machines are shared). Run it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("SEMANTIC_ROUTER_LOG_LEVEL", "WARNING")

from dmr_tools.bench.route_bench import InstantBackend, load, start_proxy, summary, texts
from dmr_tools.paths import ROOT
from dmr_tools.processes import base_env, free_port
from dynamic_model_router.encoding.embedding_cache import CACHE_DIR_ENV
from dynamic_model_router.encoding.encoder import ENCODERS_DIR_ENV
from dynamic_model_router.hook import SemanticRouterHook
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE
from dynamic_model_router.runtime.live_routes import LiveRoutes

TRAIN_PYTHON = ROOT / ".venv-train" / "bin" / "python"
BASE_ENCODER = ROOT / ".cache" / "bench-encoders" / "all-MiniLM-L6-v2-base"
EXPORT = (
    "import sys; from pathlib import Path; from dynamic_model_router.training import bases, train; "
    "print(train.export(bases.minilm_l6_dir(), Path(sys.argv[1])))"
)
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def base_encoder() -> tuple[Path, str]:
    """The published all-MiniLM-L6-v2 as an int8 ONNX folder (made once), and its sha256."""
    sha_file = BASE_ENCODER / "sha256"
    if not sha_file.is_file():
        if not TRAIN_PYTHON.exists():
            raise SystemExit(f"{TRAIN_PYTHON} is missing: `make setup` makes the training venv")
        shutil.rmtree(BASE_ENCODER, ignore_errors=True)
        made = subprocess.run(
            [str(TRAIN_PYTHON), "-c", EXPORT, str(BASE_ENCODER)],
            env=base_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        sha_file.write_text(made.stdout.strip().splitlines()[-1], encoding="utf-8")
    return BASE_ENCODER, sha_file.read_text(encoding="utf-8").strip()


def routes(**changes: Any) -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8")) | changes


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def encoders_volume(workdir: Path) -> tuple[Path, str]:
    """An encoders volume holding the base encoder twice: `bare` (no embeddings) and `embedded`
    (with the default routes' utterance embeddings, as `make train` leaves a folder)."""
    source, sha = base_encoder()
    volume = workdir / "encoders"
    for name in ("bare", "embedded"):
        shutil.copytree(source, volume / name, ignore=shutil.ignore_patterns("sha256"))
    os.environ[ENCODERS_DIR_ENV] = str(volume)
    os.environ[CACHE_DIR_ENV] = str(volume / "embedded")
    write(workdir / "embed.yaml", routes(encoder={"model": MODEL, "path": "embedded", "sha256": sha}))
    LiveRoutes(workdir / "embed.yaml")
    del os.environ[CACHE_DIR_ENV]
    return volume, sha


async def decision_times(hook: SemanticRouterHook, queries: list[str], tag: str, gap_s: float) -> list[float]:
    """Each message's decision time; messages `gap_s` apart, as chats come (the shadow decides in
    the gaps: back to back, it would decide nothing)."""
    times = []
    for q in queries:
        data = {"model": "auto", "messages": [{"role": "user", "content": f"{q} {tag}"}]}
        start = time.perf_counter()
        await hook.async_pre_call_hook(None, None, data, "completion")
        times.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(gap_s)
    return times


def shadow_counts(page: str, candidate: str) -> tuple[float, float]:
    """Shadow decisions made and dropped for `candidate`, from a /metrics page."""
    made = dropped = 0.0
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.labels.get("candidate") != candidate:
                continue
            if sample.name == "semantic_router_shadow_decisions_total":
                made += sample.value
            elif sample.name == "semantic_router_shadow_dropped_total":
                dropped += sample.value
    return made, dropped


def bench_hook(
    workdir: Path, candidate: dict[str, Any], queries: list[str], rounds: int, gap_s: float
) -> dict[str, Any]:
    write(workdir / "off.yaml", routes())
    write(workdir / "on.yaml", routes(candidate=candidate))
    lives = {shadow: LiveRoutes(workdir / f"{'on' if shadow else 'off'}.yaml") for shadow in (False, True)}
    hooks = {shadow: SemanticRouterHook(live, lambda: None) for shadow, live in lives.items()}
    times: dict[bool, list[float]] = {False: [], True: []}
    medians: dict[bool, list[float]] = {False: [], True: []}
    for r in range(rounds):
        for shadow in (False, True) if r % 2 == 0 else (True, False):
            found = asyncio.run(decision_times(hooks[shadow], queries, f"#{r}", gap_s))
            if (running := lives[shadow].shadow) is not None:
                running.join(120)  # the next round starts on an idle shadow
            times[shadow] += found
            medians[shadow].append(statistics.median(found))
    started = lives[True].shadow
    assert started is not None, "the candidate did not start: see the log above"
    started.close()
    made, dropped = shadow_counts(generate_latest().decode(), candidate["name"])
    return {"times": times, "medians": medians, "made": made, "dropped": dropped}


def bench_proxy(workdir: Path, candidate: dict[str, Any], queries: list[str], requests: int, rounds: int):
    write(workdir / "proxy-on.yaml", routes(candidate=candidate))
    backend = ThreadingHTTPServer(("127.0.0.1", free_port()), InstantBackend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    servers: dict[bool, Any] = {}
    runs: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    try:
        for shadow in (False, True):
            env = {"SEMANTIC_ROUTES_FILE": str(workdir / "proxy-on.yaml")} if shadow else {}
            servers[shadow] = start_proxy(workdir, backend.server_port, True, f"shadow-{shadow}", **env)
            server, url, _ = servers[shadow]
            server.wait_ready(f"{url}/health/readiness", timeout_s=300)
        for r in range(rounds):
            for shadow in (False, True) if r % 2 == 0 else (True, False):
                _, url, key = servers[shadow]
                batch = [("auto", f"{queries[i % len(queries)]} #{r}.{i}") for i in range(requests)]
                runs[shadow].append(asyncio.run(load(url, key, batch, 16)))
        _, url, key = servers[True]
        page = httpx.get(f"{url}/metrics/", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
        counts = shadow_counts(page, candidate["name"])
    finally:
        for server, _, _ in servers.values():
            server.stop()
        backend.shutdown()
    return runs, counts


def reloads(url: str, key: str) -> float:
    page = httpx.get(f"{url}/metrics/", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    for line in page.splitlines():
        if line.startswith('semantic_router_reloads_total{result="success"}'):
            return float(line.split()[-1])
    return 0.0


class Load:
    """Chats at a fixed concurrency in a thread of their own until stopped; counts failures."""

    def __init__(self, url: str, key: str, queries: list[str], concurrency: int):
        self.url, self.key, self.queries, self.concurrency = url, key, queries, concurrency
        self.sent = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        async with httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        ) as client:

            async def worker(n: int) -> None:
                i = n
                while not self._stop.is_set():
                    text = f"{self.queries[i % len(self.queries)]} ~{i}"
                    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
                    try:
                        response = await client.post("/v1/chat/completions", json=body)
                        self.failed += response.status_code != 200
                    except httpx.HTTPError:
                        self.failed += 1
                    self.sent += 1
                    i += self.concurrency

            await asyncio.gather(*(worker(n) for n in range(self.concurrency)))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(120)


def swap_seconds(url: str, key: str, path: Path, data: dict[str, Any]) -> float:
    """Seconds from writing the routes file until the proxy counts one more successful reload."""
    before = reloads(url, key)
    started = time.monotonic()
    write(path, data)
    while reloads(url, key) <= before:
        if time.monotonic() - started > 300:
            raise SystemExit(f"no reload of {path} counted in 300 s")
        time.sleep(0.05)
    return time.monotonic() - started


def bench_swaps(
    workdir: Path, volume: Path, sha: str, queries: list[str]
) -> list[tuple[str, float, int, int]]:
    path = workdir / "swap.yaml"
    write(path, routes())
    backend = ThreadingHTTPServer(("127.0.0.1", free_port()), InstantBackend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    env = {"SEMANTIC_ROUTES_FILE": str(path), ENCODERS_DIR_ENV: str(volume)}
    server, url, key = start_proxy(workdir, backend.server_port, True, "swaps", **env)
    shipped = {"model": MODEL, "threads": 1}
    found = []
    try:
        server.wait_ready(f"{url}/health/readiness", timeout_s=300)
        steps = [
            (
                "to an encoder with its routes' embeddings",
                routes(encoder={"model": MODEL, "path": "embedded", "sha256": sha}),
            ),
            ("back to the shipped encoder", routes()),
            ("to an encoder without them", routes(encoder={"model": MODEL, "path": "bare", "sha256": sha})),
            ("back to the shipped encoder", routes()),
        ]
        candidate = {"name": "base", "encoder": {"model": MODEL, "path": "embedded", "sha256": sha}}
        with Load(url, key, queries, 8) as running:
            time.sleep(5)
            for what, data in steps:
                sent, failed = running.sent, running.failed
                seconds = swap_seconds(url, key, path, data)
                time.sleep(3)
                found.append((what, seconds, running.sent - sent, running.failed - failed))
            write(path, routes(candidate=candidate))
            time.sleep(15)  # the candidate loads and shadows
            sent, failed = running.sent, running.failed
            promoted = routes(encoder=candidate["encoder"], candidate={"name": "shipped", "encoder": shipped})
            seconds = swap_seconds(url, key, path, promoted)
            time.sleep(3)
            found.append(
                ("promoting a shadowing candidate", seconds, running.sent - sent, running.failed - failed)
            )
    finally:
        server.stop()
        backend.shutdown()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100, help="messages per round of the hook's timing")
    parser.add_argument("--requests", type=int, default=800, help="requests per proxy run at concurrency 16")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of each")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between the hook's messages")
    args = parser.parse_args()
    queries = texts()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        volume, sha = encoders_volume(workdir)
        candidate = {"name": "base", "encoder": {"model": MODEL, "path": "embedded", "sha256": sha}}
        hook = bench_hook(workdir, candidate, queries[: args.messages], args.rounds, args.gap)
        proxy, proxy_counts = bench_proxy(workdir, candidate, queries, args.requests, args.rounds)
        swaps = bench_swaps(workdir, volume, sha, queries)

    print("\n## The hook's decision, shadow off and on (a candidate encoder of its own)\n")
    print("| shadow | median ms | p99 ms | round medians ms |\n|---|---|---|---|")
    for shadow in (False, True):
        median, p99 = summary(hook["times"][shadow])
        rounds = ", ".join(f"{m:.2f}" for m in hook["medians"][shadow])
        print(f"| {'on' if shadow else 'off'} | {median:.2f} | {p99:.2f} | {rounds} |")
    ratio = statistics.median(hook["times"][True]) / statistics.median(hook["times"][False])
    print(
        f"\nmedian on / off: {ratio:.2f}x; messages {args.gap} s apart; shadow decisions made "
        f"{hook['made']:.0f}, dropped {hook['dropped']:.0f}"
    )

    print(f"\n## LiteLLM proxy at concurrency 16, instant backend, {args.rounds} alternated runs each\n")
    print("| shadow | req/s (median of runs) | median ms | p99 ms |\n|---|---|---|---|")
    for shadow in (False, True):
        rps, median, p99 = (statistics.median(r[i] for r in proxy[shadow]) for i in range(3))
        print(f"| {'on' if shadow else 'off'} | {rps:.1f} | {median:.1f} | {p99:.1f} |")
    ratios = [on[0] / off[0] for off, on in zip(proxy[False], proxy[True], strict=True)]
    each = ", ".join(f"{x:.2f}" for x in ratios)
    print(
        f"\nthroughput on/off per round {each}; median {statistics.median(ratios):.2f}; shadow "
        f"decisions made {proxy_counts[0]:.0f}, dropped {proxy_counts[1]:.0f}"
    )

    print("\n## Encoder swaps under load (concurrency 8, one proxy)\n")
    print("| swap | s from the edit to the reload counted | requests across it | failed |\n|---|---|---|---|")
    for what, seconds, sent, failed in swaps:
        print(f"| {what} | {seconds:.2f} | {sent} | {failed} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
