"""Integration tests: against the local stack of real servers (vLLM, the LiteLLM proxy, Open WebUI
on 127.0.0.1), started once per session by the same launcher as `make up`, plus TEST_VALUES."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from dmr_tools.stack.run_dir import RunDir
from support.local_stack import Proxy, Stack, Vllm, port_flags, stack_command, stack_up

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole local stack, started as `make up` starts it (plus TEST_VALUES), on free ports."""
    run_dir = tmp_path_factory.mktemp("run")
    result = stack_up(run_dir, port_flags(), timeout_s=1200)
    if result.returncode != 0:
        stack_command(run_dir, "down")
        pytest.fail(f"the stack did not come up:\n{result.stdout}\n{result.stderr}")
    try:
        yield Stack(run_dir, RunDir(run_dir).env(), result.stdout)
    finally:
        stack_command(run_dir, "down")


@pytest.fixture(scope="session")
def vllm(stack: Stack) -> Vllm:
    return Vllm(f"{stack.env['VLLM_URL']}/v1", stack.log("vllm"))


@pytest.fixture(scope="session")
def proxy(stack: Stack) -> Proxy:
    """The real LiteLLM proxy with the proxy config and routes the chart renders."""
    routes_file = Path(stack.env["ROUTES_FILE"])
    return Proxy(
        stack.env["LITELLM_URL"],
        stack.env["LITELLM_MASTER_KEY"],
        routes_file,
        routes_file.read_text(encoding="utf-8"),
        stack.log("litellm"),
    )


@pytest.fixture(scope="session")
def api(proxy: Proxy) -> Iterator[openai.OpenAI]:
    """The official OpenAI client, pointed at the proxy with the master key."""
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0)
    yield client
    client.close()
