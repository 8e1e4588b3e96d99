"""Under concurrent load the proxy answers every chat, routes each as the router would route it
alone, and its memory stays flat; other clients' failing requests beside them change nothing and
get their own errors. (A short run; `make load` runs a long one and prints figures.)"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from dmr_tools.load import messages_with_expected_models, run_load


def test_concurrent_mixed_chats_are_all_answered_routed_as_alone_with_flat_memory(stack, proxy):
    items = messages_with_expected_models(proxy.url, proxy.key, per_route=8)
    assert {model for _, model in items} == {"doctor", "dcot", "phi2"}, "the load must mix all three routes"
    pid = stack.run.running("litellm").pid
    # A warm-up, so the first third is not the proxy's first requests ever.
    run_load(proxy.url, proxy.key, items, total=16, concurrency=16, proxy_pid=pid)
    result = run_load(proxy.url, proxy.key, items, total=48, concurrency=16, proxy_pid=pid)
    print(result.summary())
    assert not result.errors, f"{len(result.errors)} errors, e.g. {result.errors[:3]}"
    assert not result.misrouted, f"{len(result.misrouted)} misrouted, e.g. {result.misrouted[:3]}"
    first, last = result.rss_by_third()
    assert last <= first * 1.10, f"proxy memory grew from {first:.0f} MB to {last:.0f} MB during the run"


# Requests that fail by the client's own doing, each a different way into LiteLLM's error paths.
FAILING_REQUESTS = [
    ("/v1/responses", {"model": "phi2", "input": "and then?", "previous_response_id": "resp_unknown"}),
    ("/v1/responses", {"model": "auto", "input": "and then?", "previous_response_id": "resp_unknown"}),
    ("/v1/embeddings", {"model": "auto", "input": "hello"}),
    (
        "/v1/chat/completions",
        {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1},
    ),
    ("/v1/chat/completions", {"model": "doctor", "messages": [{"role": "user", "content": "knee " * 5000}]}),
    (
        "/v1/chat/completions",
        {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "timeout": 0.001},
    ),
    (
        "/v1/chat/completions",
        {
            "model": "dcot",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        },
    ),
    ("/v1/chat/completions", [1, 2]),
]


def test_failing_requests_get_their_own_errors_and_never_fail_or_misroute_chats_beside_them(stack, proxy):
    items = messages_with_expected_models(proxy.url, proxy.key, per_route=8)
    pid = stack.run.running("litellm").pid
    failed: list[tuple[str, int]] = []
    done = threading.Event()

    def failing_client() -> None:
        with httpx.Client(
            base_url=proxy.url, headers={"Authorization": f"Bearer {proxy.key}"}, timeout=60
        ) as client:
            for n in range(10**6):
                if done.is_set():
                    return
                path, body = FAILING_REQUESTS[n % len(FAILING_REQUESTS)]
                failed.append((path, client.post(path, json=body).status_code))

    with ThreadPoolExecutor(2) as pool:
        clients = [pool.submit(failing_client) for _ in range(2)]
        result = run_load(proxy.url, proxy.key, items, total=24, concurrency=8, proxy_pid=pid)
        done.set()
        for finished in clients:
            finished.result()
    print(result.summary(), f"; {len(failed)} failing requests beside them")
    assert len(failed) >= len(FAILING_REQUESTS), (
        f"only {len(failed)} failing requests were sent during the run"
    )
    assert not result.errors, f"{len(result.errors)} good chats failed, e.g. {result.errors[:3]}"
    assert not result.misrouted, f"{len(result.misrouted)} misrouted, e.g. {result.misrouted[:3]}"
    wrong = [(path, status) for path, status in failed if not 400 <= status < 500 or status == 429]
    assert not wrong, f"client errors answered as something else: {sorted(set(wrong))}"
