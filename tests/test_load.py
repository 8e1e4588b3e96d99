"""Under concurrent load the proxy answers every chat, routes each as the router would route it
alone, and its memory stays flat. (A short run; `make load` runs a long one and prints figures.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from load import messages_with_expected_models, run_load
from stack.launcher import RunDir, running

pytestmark = pytest.mark.integration


def test_concurrent_mixed_chats_are_all_answered_routed_as_alone_with_flat_memory(stack, proxy):
    items = messages_with_expected_models(Path(stack.env["ROUTES_FILE"]))
    assert {model for _, model in items} == {"doctor", "dcot", "phi2"}, "the load must mix all three routes"
    pid = running(RunDir(stack.run_dir), "litellm")["pid"]
    # A warm-up, so the first third is not the proxy's first requests ever.
    run_load(proxy.url, proxy.key, items, total=32, concurrency=16, proxy_pid=pid)
    result = run_load(proxy.url, proxy.key, items, total=150, concurrency=16, proxy_pid=pid)
    print(result.summary())
    assert not result.errors, f"{len(result.errors)} errors, e.g. {result.errors[:3]}"
    assert not result.misrouted, f"{len(result.misrouted)} misrouted, e.g. {result.misrouted[:3]}"
    first, last = result.rss_by_third()
    assert last <= first * 1.10, f"proxy memory grew from {first:.0f} MB to {last:.0f} MB during the run"
