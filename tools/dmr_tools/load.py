"""A bounded load run through the proxy: many chats at once, the three routes mixed, some streamed.

Used by tests/integration/test_load.py (a short run) and `make load` (a long one against `make up`'s
stack). Each message's expected model is where the running proxy sends that message alone (asked
one at a time before the load), so a run proves that concurrency never mixes up decisions. The
proxy's memory (RSS) is sampled as requests finish.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dmr_tools.paths import DATA

EVAL_SET = DATA / "routing-eval.jsonl"


def messages_with_expected_models(url: str, key: str, per_route: int = 20) -> list[tuple[str, str]]:
    """`per_route` of the project's eval messages of each labelled route, interleaved, each with
    the model the running proxy routes it to when it is sent alone (one at a time, before any
    load): what a load run must find again under concurrency."""
    items = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line]
    by_route: dict[str, list[str]] = {}
    for item in items:
        by_route.setdefault(item["route"], []).append(item["text"])
    firsts = (texts[:per_route] for texts in by_route.values())
    interleaved = [text for group in zip(*firsts, strict=False) for text in group]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        alone = []
        for text in interleaved:
            body = {"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 1}
            response = client.post("/v1/chat/completions", json=body)
            response.raise_for_status()
            alone.append((text, response.headers["x-semantic-route"]))
    return alone


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    misrouted: list[str] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    def rss_by_third(self) -> tuple[float, float]:
        third = max(1, len(self.rss_mb) // 3)
        return statistics.median(self.rss_mb[:third]), statistics.median(self.rss_mb[-third:])

    def summary(self) -> str:
        ordered = sorted(self.latencies_ms)
        first, last = self.rss_by_third()
        return (
            f"{self.requests} requests in {self.seconds:.1f} s: {self.requests / self.seconds:.1f} req/s, "
            f"p50 {ordered[len(ordered) // 2]:.0f} ms, p99 {ordered[int(len(ordered) * 0.99) - 1]:.0f} ms, "
            f"{len(self.errors)} errors, {len(self.misrouted)} misrouted; proxy RSS median "
            f"{first:.0f} MB in the first third, {last:.0f} MB in the last"
        )


async def _one(
    client: httpx.AsyncClient, text: str, expected: str, stream: bool, result: LoadResult, pid: int
) -> None:
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 2,
        "stream": stream,
    }
    started = time.monotonic()
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            content = await response.aread()
            if response.status_code != 200 or (stream and b"data: [DONE]" not in content):
                result.errors.append(f"{response.status_code}: {content[:200]!r}")
            elif (routed := response.headers.get("x-semantic-route")) != expected:
                result.misrouted.append(f"{text[:60]!r} went to {routed}, alone it goes to {expected}")
    except httpx.HTTPError as e:
        result.errors.append(f"{type(e).__name__}: {e}")
    result.latencies_ms.append((time.monotonic() - started) * 1000)
    result.rss_mb.append(rss_mb(pid))


async def _run(
    url: str,
    key: str,
    items: list[tuple[str, str]],
    total: int,
    concurrency: int,
    stream_every: int,
    pid: int,
) -> LoadResult:
    result = LoadResult(total, 0.0)
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as client:

        async def gated(i: int) -> None:
            text, expected = items[i % len(items)]
            async with gate:
                await _one(client, text, expected, i % stream_every == 0, result, pid)

        started = time.monotonic()
        await asyncio.gather(*(gated(i) for i in range(total)))
        result.seconds = time.monotonic() - started
    return result


def run_load(
    url: str,
    key: str,
    items: list[tuple[str, str]],
    total: int,
    concurrency: int,
    proxy_pid: int,
    stream_every: int = 4,
) -> LoadResult:
    """`total` chats, `concurrency` at a time, every `stream_every`-th one streamed."""
    return asyncio.run(_run(url, key, items, total, concurrency, stream_every, proxy_pid))
