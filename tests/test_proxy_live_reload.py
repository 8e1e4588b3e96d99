"""Editing the routes file under the running proxy changes routing without a restart."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
import yaml

pytestmark = pytest.mark.integration

MEDICAL = [{"role": "user", "content": "I have had a dry cough and a fever for four days, should I worry?"}]


def routed_model(api: openai.OpenAI) -> str | None:
    response = api.chat.completions.with_raw_response.create(model="auto", messages=MEDICAL, max_tokens=2)
    return response.headers.get("x-semantic-route")


def wait_for_route(api, proxy, expected: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        seen = routed_model(api)
        if seen == expected:
            return
        time.sleep(0.5)
    raise AssertionError(
        f"routing never changed to {expected!r} (last: {seen!r}); log:\n{proxy.server.tail()}"
    )


@pytest.fixture
def restore_routes(api, proxy):
    yield proxy.routes_file
    proxy.routes_file.write_text(proxy.routes_text, encoding="utf-8")
    wait_for_route(api, proxy, "doctor")


def test_editing_the_routes_file_changes_routing_without_a_restart(api, proxy, restore_routes):
    assert routed_model(api) == "doctor"
    routes = yaml.safe_load(restore_routes.read_text(encoding="utf-8"))
    for route in routes["routes"]:
        if route["model"] == "doctor":
            route["model"] = "dcot"
    restore_routes.write_text(yaml.safe_dump(routes), encoding="utf-8")
    wait_for_route(api, proxy, "dcot")
    assert "routes reloaded from" in proxy.server.log_text()


def test_a_broken_routes_edit_is_logged_and_routing_keeps_working(api, proxy, restore_routes):
    restore_routes.write_text("routes: [\n  - name: doctor\n", encoding="utf-8")
    deadline = time.monotonic() + 60
    while "routes reload failed" not in proxy.server.log_text():
        assert time.monotonic() < deadline, f"broken edit never reported; log:\n{proxy.server.tail()}"
        assert routed_model(api) == "doctor"
        time.sleep(0.5)
    assert routed_model(api) == "doctor"
    metrics = httpx.get(
        f"{proxy.url}/metrics/", headers={"Authorization": f"Bearer {proxy.key}"}, timeout=30
    ).text
    assert 'semantic_router_reloads_total{result="failure"}' in metrics, "failed reload not counted"
