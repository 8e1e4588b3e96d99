"""Benchmark the router: what one decision costs, and what the hook costs a real LiteLLM proxy.

    make bench          (or: .venv/bin/python -m dmr_tools.bench.route_bench [--requests N])

Measured in one run on this machine, on the project's own labelled messages:
1. hook decision latency (async_pre_call_hook, embedding included) vs one bare embedding;
2. event-loop lag while decisions run, vs calling the router synchronously on the loop;
3. the real LiteLLM proxy's start-up, with the hook and without its embedding cache, and with it;
4. the real LiteLLM proxy with the hook vs without it, at concurrency 1 and 16, in front
   of the same instant-answer OpenAI-compatible backend (so the proxy's own cost shows,
   not a model's), like with like: without the hook each message names the model the
   router would pick; the two proxies run side by side and their runs alternate.
Prints a markdown table; nothing here asserts a time (these machines are shared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("SEMANTIC_ROUTER_LOG_LEVEL", "WARNING")

from dmr_tools.chart import chart_file
from dmr_tools.paths import DATA, LITELLM_BIN, ROOT
from dmr_tools.processes import Server, base_env, free_port
from dynamic_model_router.encoding.embedding_cache import CACHE_DIR_ENV

EVAL_SET = DATA / "routing-eval.jsonl"
HOOK = "custom_router.proxy_handler_instance"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 0.99)


def texts() -> list[str]:
    return [
        json.loads(line)["text"] for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


async def timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def loop_lag_ms(work: Callable[[], Awaitable[None]], tick_s: float = 0.002) -> list[float]:
    """How late a 2 ms timer fires while `work` runs on the same loop."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(tick_s)
            lags.append(max(0.0, (time.perf_counter() - start - tick_s) * 1000))

    task = asyncio.create_task(ticker())
    await work()
    done.set()
    await task
    return lags


async def bench_decisions(queries: list[str]) -> dict[str, tuple[float, float]]:
    from custom_router import proxy_handler_instance as hook

    decider = hook.routes.decider
    # Warm-up: first ONNX runs allocate; the decision cache is keyed by text, so warm on other text.
    for q in ("warm up one", "warm up two"):
        decider.encoder([q])

    def embedding(q: str) -> Callable[[], Awaitable[object]]:
        return lambda: asyncio.to_thread(decider.encoder, [f"{q} "])

    def decision(q: str) -> Callable[[], Awaitable[object]]:
        chat = {"model": "auto", "messages": [{"role": "user", "content": q}]}
        return lambda: hook.async_pre_call_hook(None, None, chat, "completion")

    embed = await timed([embedding(q) for q in queries])
    decide = await timed([decision(q) for q in queries])

    fresh = [f"{q} (again)" for q in queries]

    async def routed_concurrently() -> None:
        sem = asyncio.Semaphore(4)

        async def one(q: str) -> None:
            async with sem:
                await decider.adecide([{"role": "user", "content": q}])

        await asyncio.gather(*(one(q) for q in fresh))

    async def routed_blocking() -> None:
        for q in fresh:
            decider.router(f"{q} (blocking)")
            await asyncio.sleep(0)  # lets the timer see each blocked stretch

    return {
        "bare embedding (floor)": summary(embed),
        "hook decision": summary(decide),
        "loop lag, hook (off-loop)": summary(await loop_lag_ms(routed_concurrently)),
        "loop lag, sync call on loop": summary(await loop_lag_ms(routed_blocking)),
    }


class InstantBackend(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint that answers at once: isolates the proxy's cost."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    BODY = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "phi2",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
    ).encode()

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, *args: object) -> None:
        pass


def proxy_config(workdir: Path, with_hook: bool) -> Path:
    """The proxy config the chart deploys, with or without the router's hook."""
    config = yaml.safe_load(chart_file("litellm/litellm-config-configmap.yaml", "config.yaml"))
    callbacks = [c for c in config["litellm_settings"]["callbacks"] if with_hook or c != HOOK]
    config["litellm_settings"]["callbacks"] = callbacks
    path = workdir / ("with-hook.yaml" if with_hook else "without-hook.yaml")
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def load(
    url: str, key: str, requests: list[tuple[str, str]], concurrency: int
) -> tuple[float, float, float]:
    """Send (model, message) requests at this concurrency; throughput, median and p99 latency."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one(model: str, text: str) -> None:
            body = {"model": model, "messages": [{"role": "user", "content": text}]}
            async with sem:
                start = time.perf_counter()
                response = await client.post("/v1/chat/completions", json=body)
                latencies.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()

        for model, text in requests[:20]:  # warm-up
            await one(model, f"{text} (warm-up)")
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one(model, text) for model, text in requests))
        elapsed = time.perf_counter() - start
    median, p99 = summary(latencies)
    return len(requests) / elapsed, median, p99


def start_proxy(
    workdir: Path, backend_port: int, with_hook: bool, name: str = "", **environment: str
) -> tuple[Server, str, str]:
    """A proxy in front of the backend (its log: workdir/litellm-<name>.log), with the chart's
    config and these environment variables (SEMANTIC_ROUTES_FILE, say)."""
    port = free_port()
    key = "sk-bench-" + os.urandom(8).hex()
    env = base_env(
        VLLM_API_BASE=f"http://127.0.0.1:{backend_port}/v1",
        VLLM_API_KEY="unused",
        LITELLM_MASTER_KEY=key,
        SEMANTIC_ROUTER_LOG_LEVEL="WARNING",
        **{CACHE_DIR_ENV: str(workdir / "embedding-cache"), **environment},
    )
    config = proxy_config(workdir, with_hook)
    cmd = [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    log = workdir / f"litellm-{name or ('with' if with_hook else 'without')}.log"
    server = Server.start("LiteLLM", cmd, env, log, port)
    return server, f"http://127.0.0.1:{port}", key


Runs = dict[tuple[bool, int], list[tuple[float, float, float]]]


def bench_proxy(queries: list[str], requests: int, rounds: int) -> tuple[dict[str, float], Runs]:
    """Both proxies side by side in front of one instant backend, their runs alternated.

    Like with like: the proxy without the hook gets each message addressed to the model the
    router picks for it, the proxy with the hook gets it addressed to `auto`; the same backend
    answers both. Start-up is timed twice with the hook: with no embedding cache, then with the
    cache the first start wrote (as the image ships it for the default routes).
    """
    from custom_router import proxy_handler_instance as hook

    decider = hook.routes.decider
    routed = [(decider.decide([{"role": "user", "content": q}]).model, q) for q in queries]
    backend = ThreadingHTTPServer(("127.0.0.1", free_port()), InstantBackend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    ready: dict[str, float] = {}
    runs: Runs = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            # Started one after another, so no start-up competes with another for the CPU.
            server, url, _ = start_proxy(workdir, backend.server_port, with_hook=True)
            try:
                ready["with hook, no embedding cache yet"] = server.wait_ready(f"{url}/health/readiness", 180)
            finally:
                server.stop()
            servers = {}
            try:
                for hooked, label in ((False, "without hook"), (True, "with hook, embedding cache")):
                    servers[hooked] = start_proxy(workdir, backend.server_port, hooked)
                    server, url, _ = servers[hooked]
                    ready[label] = server.wait_ready(f"{url}/health/readiness", timeout_s=180)
                for concurrency in (1, 16):
                    n = requests if concurrency == 1 else requests * 4
                    for r in range(rounds):
                        for hooked in (False, True) if r % 2 == 0 else (True, False):
                            _, url, key = servers[hooked]
                            picks = [routed[i % len(routed)] for i in range(n)]
                            batch = [
                                ("auto" if hooked else model, f"{text} #{r}.{i}")
                                for i, (model, text) in enumerate(picks)
                            ]
                            runs.setdefault((hooked, concurrency), []).append(
                                asyncio.run(load(url, key, batch, concurrency))
                            )
            finally:
                for server, _, _ in servers.values():
                    server.stop()
    finally:
        backend.shutdown()
    return ready, runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests at concurrency 1 (x4 at 16)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs of each proxy")
    args = parser.parse_args()
    queries = texts()
    decisions = asyncio.run(bench_decisions(queries))
    ready, runs = bench_proxy(queries, args.requests, args.rounds)

    print(f"\n## Router cost ({len(queries)} messages from {EVAL_SET.relative_to(ROOT)})\n")
    print("| measure | median ms | p99 ms |\n|---|---|---|")
    for name, (median, p99) in decisions.items():
        print(f"| {name} | {median:.2f} | {p99:.2f} |")
    floor = decisions["bare embedding (floor)"][0]
    print(f"\nhook decision / bare embedding (medians): {decisions['hook decision'][0] / floor:.2f}x")

    print("\n## LiteLLM proxy start-up (until /health/readiness answers)\n")
    print("| proxy | ready in s |\n|---|---|")
    for label, seconds in ready.items():
        print(f"| {label} | {seconds:.1f} |")

    print(f"\n## LiteLLM proxy, instant backend, like with like, {args.rounds} alternated runs each\n")
    print("| concurrency | hook | req/s (median of runs) | median ms | p99 ms |\n|---|---|---|---|---|")
    for (hooked, concurrency), results in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rps, median, p99 = (statistics.median(r[i] for r in results) for i in range(3))
        print(f"| {concurrency} | {'with' if hooked else 'without'} | {rps:.1f} | {median:.1f} | {p99:.1f} |")
    for concurrency in (1, 16):
        ratios = [
            h[0] / b[0] for b, h in zip(runs[(False, concurrency)], runs[(True, concurrency)], strict=True)
        ]
        print(
            f"\nconcurrency {concurrency}: throughput with/without hook, per round "
            f"{', '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
