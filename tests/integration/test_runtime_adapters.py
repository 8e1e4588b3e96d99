"""Adapters added, updated and retired while the stack runs (the tests' stack has runtime adapters
on): adapters made now by the local model maker are dropped into the runtime adapters volume and
named in the live routes file; vLLM and the proxy keep running throughout (same processes)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from dmr_tools.paths import ARTIFACTS, VLLM_PYTHON
from dmr_tools.processes import base_env, environment, until
from dmr_tools.stack.rendering import LOCAL_MODEL_CACHE, MAKE_LOCAL_MODEL
from support.browser import open_webui_page
from support.local_stack import proxy_copy
from support.prompts import MEDICAL, user

# A new specialist: pet care (feeding, training, living together), far from the doctor's topics.
PETS = "How do I get my kitten to use the litter box?"
PETS_ROUTE = {
    "name": "pets",
    "model": "pets",
    "utterances": [
        "How much should I feed my golden retriever puppy each day?",
        "What is the best way to house-train a new puppy?",
        "How do I stop my cat from scratching the sofa?",
        "How often should I groom a long-haired cat?",
        "Which toys keep an indoor rabbit busy?",
        "My dog pulls on the lead on every walk, how do I teach him to stop?",
        "What kind of cage does a pet hamster need?",
        "How do I introduce a new kitten to my older cat?",
    ],
}
# (adapter, rank, how it is spoiled after it is made, the problem the router must name)
BROKEN = [
    ("wide", 128, None, "rank-too-high"),  # vLLM's --max-lora-rank is 64 here
    ("stranger", 8, {"base_model_name_or_path": "meta-llama/Llama-3.1-8B"}, "base-model-mismatch"),
    ("garbled", 8, "{ this is not json", "bad-config"),
]


@pytest.fixture(scope="module")
def volume(stack) -> Path:
    """The runtime adapters volume, as the running proxy was given it."""
    return Path(environment(stack.run.running("litellm").pid)["RUNTIME_ADAPTERS_DIR"])


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Adapters made now, while the stack runs, by the same maker as the stack's own: good ones,
    and the broken ones spoiled as an operator might."""
    out = tmp_path_factory.mktemp("adapters")
    specs = ["pets:8", "doctor-v2:8", *(f"{name}:{rank}" for name, rank, _, _ in BROKEN)]
    result = subprocess.run(
        [str(VLLM_PYTHON), str(MAKE_LOCAL_MODEL), "--adapters", str(LOCAL_MODEL_CACHE), str(out), *specs],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for name, _, spoil, _ in BROKEN:
        config = out / name / "adapter_config.json"
        if isinstance(spoil, dict):
            config.write_text(json.dumps({**json.loads(config.read_text()), **spoil}), encoding="utf-8")
        elif isinstance(spoil, str):
            config.write_text(spoil, encoding="utf-8")
    return out


def drop(made: Path, volume: Path, name: str) -> None:
    """Put an adapter in the volume as an operator should: copied beside it, then renamed in."""
    staging = volume / f".{name}.partial"
    shutil.copytree(made / name, staging)
    staging.rename(volume / name)


def present(made: Path, volume: Path, *names: str) -> None:
    """These adapters in the volume, whatever tests ran before (a reload refuses routes to a model
    that is neither served nor in the volume)."""
    for name in names:
        if not (volume / name).exists():
            drop(made, volume, name)


@pytest.fixture(scope="module")
def routes(proxy) -> Iterator[dict]:
    """The live routes file as YAML to edit (written with write_routes); put back afterwards."""
    yield yaml.safe_load(proxy.routes_text)
    proxy.routes_file.write_text(proxy.routes_text, encoding="utf-8")


def write_routes(proxy, config: dict) -> None:
    proxy.routes_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def vllm_serves(vllm) -> set[str]:
    return {m["id"] for m in httpx.get(f"{vllm.api_base}/models", timeout=30).json()["data"]}


def proxy_serves(proxy) -> set[str]:
    models = httpx.get(f"{proxy.url}/v1/models", headers=proxy.headers, timeout=30).json()["data"]
    return {m["id"] for m in models}


@pytest.fixture(scope="module")
def processes(stack) -> dict[str, int]:
    return {name: stack.run.running(name).pid for name in ("vllm", "litellm")}


def test_a_new_adapter_and_its_route_are_served_within_seconds_without_a_restart(
    stack, proxy, vllm, volume, made, routes, processes, record_property
):
    # From no route, no folder and nothing loaded, whatever ran before.
    write_routes(proxy, routes)
    shutil.rmtree(volume / "pets", ignore_errors=True)
    until("pets not served before it is dropped in", lambda: "pets" not in vllm_serves(vllm))
    offset = len(vllm.log.text())
    started = time.monotonic()
    drop(made, volume, "pets")
    write_routes(proxy, {**routes, "routes": [*routes["routes"], PETS_ROUTE]})
    response = until(
        "a question about a pet answered by pets",
        lambda: (r := proxy.chat(user(PETS))).headers.get("x-semantic-route") == "pets" and r,
    )
    elapsed = time.monotonic() - started
    record_property("seconds_from_drop_to_first_routed_answer", round(elapsed, 1))
    print(f"\nfrom dropping pets in to its first routed answer: {elapsed:.1f} s")
    assert response.status_code == 200, response.text
    assert "pets" in [model for _, model in vllm.served(since=offset)], "vLLM's log does not name pets"
    assert "pets" in vllm_serves(vllm)
    assert {name: stack.run.running(name).pid for name in processes} == processes, "a process restarted"
    assert '"event": "runtime_adapter_loaded"' in proxy.log.text()


def test_a_canary_takes_its_share_of_conversations_and_each_keeps_its_version(
    proxy, volume, made, routes, record_property
):
    present(made, volume, "doctor-v2", "pets")
    edited = [
        {**r, "canary": {"model": "doctor-v2", "share": 0.2}} if r["name"] == "doctor" else r
        for r in routes["routes"]
    ]
    write_routes(proxy, {**routes, "routes": [*edited, PETS_ROUTE]})
    until("doctor-v2 loaded", lambda: "doctor-v2" in proxy_serves(proxy))
    # The split is a hash of each conversation's first message: these 20 give the canary 4, two of
    # them among the 8 whose later turns are checked.
    openings = [f"{MEDICAL} I am {age} years old." for age in range(18, 38)]
    followed = openings[:8]
    first = {}
    for text in openings:
        response = proxy.chat(user(text), max_tokens=1)
        assert response.status_code == 200, response.text
        first[text] = response.headers["x-semantic-route"]
    split = Counter(first.values())
    record_property("canary_split", dict(split))
    print(f"\ncanary at 20% over {len(openings)} conversations: {dict(split)}")
    assert set(split) == {"doctor", "doctor-v2"}, split
    assert 0.08 <= split["doctor-v2"] / len(openings) <= 0.35, split
    for text in followed:
        follow_up = [
            *user(text),
            {"role": "assistant", "content": "I see."},
            *user("and how long will it last?"),
        ]
        routed = proxy.chat(follow_up, max_tokens=1).headers["x-semantic-route"]
        assert routed == first[text], f"{text!r} changed version"

    # All of it to the new version, then the old one out of the route: ConfigMap edits only.
    full = [
        {**r, "canary": {"model": "doctor-v2", "share": 1.0}} if r["name"] == "doctor" else r
        for r in routes["routes"]
    ]
    write_routes(proxy, {**routes, "routes": [*full, PETS_ROUTE]})
    until(
        "every conversation on doctor-v2",
        lambda: all(
            proxy.chat(user(text), max_tokens=1).headers["x-semantic-route"] == "doctor-v2"
            for text in followed
        ),
    )
    only_new = [{**r, "model": "doctor-v2"} if r["name"] == "doctor" else r for r in routes["routes"]]
    reloads = proxy.log.text().count("routes reloaded")
    write_routes(proxy, {**routes, "routes": [*only_new, PETS_ROUTE]})
    until("the old version's removal reloaded", lambda: proxy.log.text().count("routes reloaded") > reloads)
    assert {proxy.chat(user(text), max_tokens=1).headers["x-semantic-route"] for text in followed} == {
        "doctor-v2"
    }


@pytest.mark.parametrize(("name", "rank", "spoil", "problem"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_adapter_is_named_with_its_problem_and_its_route_answered_by_the_base_model(
    proxy, volume, made, routes, name, rank, spoil, problem
):
    present(made, volume, name)
    write_routes(proxy, {**routes, "routes": [*routes["routes"], {**PETS_ROUTE, "model": name}]})
    response = until(
        f"the route to {name} answered by the base model",
        lambda: (r := proxy.chat(user(PETS))).headers.get("x-semantic-route-unavailable") == name and r,
    )
    assert response.status_code == 200
    assert (response.headers["x-semantic-route"], response.headers["x-semantic-route-reason"]) == (
        "phi2",
        "unavailable",
    )
    broken = [
        json.loads(line.split(": ", 1)[1])
        for line in proxy.log.text().splitlines()
        if '"runtime_adapter_broken"' in line
    ]
    assert any(b["adapter"] == name and b["problem"] == problem for b in broken), broken
    metrics = httpx.get(f"{proxy.url}/metrics/", headers=proxy.headers, timeout=30).text
    assert re.search(
        rf'semantic_router_runtime_adapter_problems_total{{adapter="{name}",problem="{problem}"}} [1-9]',
        metrics,
    )


def test_the_next_good_adapter_still_loads_after_broken_ones(proxy, vllm, volume, made, routes):
    # A broken adapter where pets' route was: the sync that meets it must go on and unload pets.
    name = BROKEN[-1][0]
    present(made, volume, name, "pets")
    write_routes(proxy, {**routes, "routes": [*routes["routes"], {**PETS_ROUTE, "model": name}]})
    until(f"{name} met", lambda: proxy.chat(user(PETS)).headers.get("x-semantic-route-unavailable") == name)
    until("pets unloaded past the broken adapter", lambda: "pets" not in vllm_serves(vllm))
    write_routes(proxy, {**routes, "routes": [*routes["routes"], PETS_ROUTE]})
    until("pets answering again", lambda: proxy.chat(user(PETS)).headers.get("x-semantic-route") == "pets")


def test_open_webui_shows_the_new_adapter_answered(stack, proxy, vllm, volume, made, routes):
    present(made, volume, "pets")
    write_routes(proxy, {**routes, "routes": [*routes["routes"], PETS_ROUTE]})
    until("pets answering", lambda: proxy.chat(user(PETS)).headers.get("x-semantic-route") == "pets")
    with open_webui_page(stack.env) as page:
        offset, proxy_offset = len(vllm.log.text()), len(proxy.log.text())
        page.fill("#chat-input", PETS)
        page.click("#send-message-button")
        try:
            expect(page.get_by_text("Answered by pets")).to_be_visible(timeout=90_000)
        except AssertionError as e:
            said = [
                line
                for line in proxy.log.text()[proxy_offset:].splitlines()
                if '"event"' in line or "ERROR" in line or "WARNING" in line
            ]
            raise AssertionError(f"the proxy's events and errors during the chat: {said}") from e
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "open-webui-runtime-adapter.png"))
    assert "pets" in [model for _, model in vllm.served(since=offset)]


def test_retiring_routes_and_folders_unloads_adapters_and_nothing_fails(
    stack, proxy, vllm, volume, made, routes, processes
):
    present(made, volume, "doctor-v2", "pets")
    on_new = [{**r, "model": "doctor-v2"} if r["name"] == "doctor" else r for r in routes["routes"]]
    write_routes(proxy, {**routes, "routes": [*on_new, PETS_ROUTE]})
    until("pets and doctor-v2 in vLLM", lambda: {"pets", "doctor-v2"} <= vllm_serves(vllm))
    write_routes(proxy, routes)  # the pets route and the doctor-v2 version gone
    until("pets and doctor-v2 unloaded from vLLM", lambda: not {"pets", "doctor-v2"} & vllm_serves(vllm))
    response = proxy.chat(user(PETS))
    assert response.status_code == 200 and response.headers["x-semantic-route"] != "pets"
    # A folder taken away while its route still names it: the base model answers, saying why.
    write_routes(proxy, {**routes, "routes": [*routes["routes"], PETS_ROUTE]})
    until("pets back", lambda: proxy.chat(user(PETS)).headers.get("x-semantic-route") == "pets")
    shutil.rmtree(volume / "pets")
    until("pets unloaded after its folder went", lambda: "pets" not in vllm_serves(vllm))
    response = proxy.chat(user(PETS))
    assert response.status_code == 200
    assert response.headers["x-semantic-route-unavailable"] == "pets", dict(response.headers)
    assert {name: stack.run.running(name).pid for name in processes} == processes, "a process restarted"
    for name in [p.name for p in volume.iterdir()]:
        shutil.rmtree(volume / name)


def test_a_proxy_starting_with_routes_that_name_an_adapter_loads_it_before_any_request(
    stack, proxy, vllm, volume, made, routes, tmp_path: Path
):
    # A proxy pod (re)started while the routes name a runtime adapter: no chat is needed first.
    # From a clean start whatever ran before: no route, no folder, nothing loaded.
    write_routes(proxy, routes)
    shutil.rmtree(volume / "pets", ignore_errors=True)
    until("pets unloaded before the new proxy starts", lambda: "pets" not in vllm_serves(vllm))
    drop(made, volume, "pets")
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(
        yaml.safe_dump({**routes, "routes": [*routes["routes"], PETS_ROUTE]}), encoding="utf-8"
    )
    server, port = proxy_copy(stack, routes_file, tmp_path / "litellm.log")
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/health/readiness", timeout_s=180)
        until("pets loaded by the new proxy", lambda: "pets" in vllm_serves(vllm))
        copy = SimpleNamespace(url=f"http://127.0.0.1:{port}", headers=proxy.headers)
        assert "pets" in proxy_serves(copy)
    finally:
        server.stop()
        httpx.post(f"{vllm.api_base}/unload_lora_adapter", json={"lora_name": "pets"}, timeout=30)
        shutil.rmtree(volume / "pets")


def test_the_proxy_never_passes_a_request_through_to_vllm_s_adapter_api(proxy, vllm):
    before = vllm_serves(vllm)
    for path in (
        "/vllm/v1/load_lora_adapter",
        "/vllm/v1/unload_lora_adapter",
        "/openai/v1/load_lora_adapter",
    ):
        response = httpx.post(
            f"{proxy.url}{path}",
            headers=proxy.headers,
            json={"model": "doctor", "lora_name": "doctor", "lora_path": "/tmp"},
            timeout=30,
        )
        assert response.status_code == 403, f"{path}: {response.status_code} {response.text}"
    assert vllm_serves(vllm) == before
