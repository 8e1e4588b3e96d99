"""Faults of the local stack, and what clients and the operator see."""

from __future__ import annotations

import httpx
import pytest

from conftest import port_flags, stack_command
from stack.launcher import COMPONENTS, RunDir, running, stop

pytestmark = pytest.mark.integration


def ask(proxy) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.key}"},
        json={"model": "auto", "messages": [{"role": "user", "content": "My knee hurts when I run."}]},
        timeout=60,
    )


def test_with_vllm_down_the_proxy_answers_503_and_recovers_by_itself_when_vllm_is_back(stack, proxy):
    run = RunDir(stack.run_dir)
    proxy_pid = running(run, "litellm")["pid"]
    ports = port_flags({name: running(run, name)["port"] for name in COMPONENTS})
    stop(run, "vllm")
    try:
        response = ask(proxy)
        assert response.status_code == 503, response.text
        assert "model server (vLLM) is unavailable" in response.json()["error"]["message"]
        assert response.headers.get("retry-after") == "10"
        assert "model server unreachable" in proxy.log.text(), "the operator's log does not say why"
    finally:
        restarted = stack_command(stack.run_dir, "up", *ports, timeout_s=600)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert ask(proxy).status_code == 200, "the proxy did not recover once vLLM was back"
    assert running(run, "litellm")["pid"] == proxy_pid, "recovery must not need a proxy restart"
