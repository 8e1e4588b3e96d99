"""Benchmark the router: what one decision costs, and what the hook costs a real LiteLLM proxy.

    make bench          (or: .venv/bin/python tests/bench/route_bench.py [--requests N])

Measured in one run on this machine, on the project's own labelled messages:
1. hook decision latency (async_pre_call_hook, embedding included) vs one bare embedding;
2. event-loop lag while decisions run, vs calling the router synchronously on the loop;
3. the real LiteLLM proxy with the hook vs without it, at concurrency 1 and 16, in front
   of the same instant-answer OpenAI-compatible backend (so the proxy's own cost shows,
   not a model's).
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

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "litellm-configs"), str(ROOT / "tests")]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("SEMANTIC_ROUTER_LOG_LEVEL", "WARNING")

from chart import chart_file  # noqa: E402
from servers import LITELLM_BIN, Server, base_env, free_port  # noqa: E402

DATA = ROOT / "tests" / "data" / "routing-eval.jsonl"
HOOK = "custom_router.proxy_handler_instance"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 0.99)


def texts() -> list[str]:
    return [
        json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()
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
    embed = await timed([lambda q=q: asyncio.to_thread(decider.encoder, [f"{q} "]) for q in queries])
    decide = await timed(
        [
            lambda q=q: hook.async_pre_call_hook(
                None, None, {"model": "auto", "messages": [{"role": "user", "content": q}]}, "completion"
            )
            for q in queries
        ]
    )

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
    url: str, key: str, queries: list[str], requests: int, concurrency: int
) -> tuple[float, float, float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            body = {
                "model": "auto",
                "messages": [{"role": "user", "content": queries[i % len(queries)] + f" #{i}"}],
            }
            async with sem:
                start = time.perf_counter()
                response = await client.post("/v1/chat/completions", json=body)
                latencies.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()

        for i in range(min(20, requests)):  # warm-up
            await one(-1 - i)
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        elapsed = time.perf_counter() - start
    median, p99 = summary(latencies)
    return requests / elapsed, median, p99


def bench_proxy(queries: list[str], requests: int) -> dict[tuple[bool, int], tuple[float, float, float]]:
    backend = ThreadingHTTPServer(("127.0.0.1", free_port()), InstantBackend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    results: dict[tuple[bool, int], tuple[float, float, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for with_hook in (False, True):
                port = free_port()
                key = "sk-bench-" + os.urandom(8).hex()
                env = base_env(
                    VLLM_API_BASE=f"http://127.0.0.1:{backend.server_port}/v1",
                    VLLM_API_KEY="unused",
                    LITELLM_MASTER_KEY=key,
                    SEMANTIC_ROUTER_LOG_LEVEL="WARNING",
                    PYTHONPATH=str(ROOT / "litellm-configs"),
                )
                cmd = [
                    str(LITELLM_BIN),
                    "--config",
                    str(proxy_config(Path(tmp), with_hook)),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ]
                server = Server("LiteLLM", cmd, env, Path(tmp) / f"litellm-{with_hook}.log")
                try:
                    ready_s = server.wait_ready(f"http://127.0.0.1:{port}/health/liveliness", timeout_s=120)
                    print(
                        f"proxy {'with' if with_hook else 'without'} hook ready in {ready_s:.1f} s",
                        file=sys.stderr,
                    )
                    for concurrency in (1, 16):
                        n = requests if concurrency == 1 else requests * 4
                        results[(with_hook, concurrency)] = asyncio.run(
                            load(f"http://127.0.0.1:{port}", key, queries, n, concurrency)
                        )
                finally:
                    server.stop()
    finally:
        backend.shutdown()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests at concurrency 1 (x4 at 16)")
    args = parser.parse_args()
    queries = texts()
    decisions = asyncio.run(bench_decisions(queries))
    proxy = bench_proxy(queries, args.requests)

    print(f"\n## Router cost ({len(queries)} messages from {DATA.relative_to(ROOT)})\n")
    print("| measure | median ms | p99 ms |\n|---|---|---|")
    for name, (median, p99) in decisions.items():
        print(f"| {name} | {median:.2f} | {p99:.2f} |")
    floor = decisions["bare embedding (floor)"][0]
    print(f"\nhook decision / bare embedding (medians): {decisions['hook decision'][0] / floor:.2f}x")

    print("\n## LiteLLM proxy, instant backend\n")
    print("| concurrency | hook | req/s | median ms | p99 ms |\n|---|---|---|---|---|")
    for (with_hook, concurrency), (rps, median, p99) in sorted(
        proxy.items(), key=lambda kv: (kv[0][1], kv[0][0])
    ):
        print(
            f"| {concurrency} | {'with' if with_hook else 'without'} | {rps:.1f} | {median:.1f} | {p99:.1f} |"
        )
    for concurrency in (1, 16):
        base, hooked = proxy[(False, concurrency)], proxy[(True, concurrency)]
        print(
            f"\nconcurrency {concurrency}: throughput with/without hook {hooked[0] / base[0]:.2f}, "
            f"median latency with/without {hooked[1] / base[1]:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
