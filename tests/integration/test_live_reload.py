"""Editing the live routes file (`make edit-routes`, `oc edit configmap` on the cluster) changes
routing for the next request, without a restart; a broken edit changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openai
import pytest
import yaml

from dmr_tools.processes import until
from support.prompts import GENERAL, MEDICAL

# Written for this test: pet naming as a dcot topic, enough to outvote the general route.
PET_NAMING = [
    "What should I name my new puppy?",
    "Give me some fun names for a dog.",
    "Help me choose a name for my new pet.",
    "Suggest cute names for a puppy.",
]


RELOADED = "routes reloaded from"
# Written for the tests: an urgent message the utterance vote alone sends to the base model, and
# the class head to `doctor`.
STROKE = "grandma is slurring her words and one side of her face droops"


def routed_model(api: openai.OpenAI, text: str = MEDICAL) -> str | None:
    response = api.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": text}], max_tokens=2
    )
    return response.headers.get("x-semantic-route")


def wait_for_route(api, proxy, expected: str, text: str = MEDICAL) -> None:
    until(
        f"routing changed to {expected!r}", lambda: routed_model(api, text) == expected, detail=proxy.log.tail
    )


def edit_utterances(routes_file: Path, route: str, edit: Callable[[list[str]], list[str]]) -> None:
    """Rewrite one route's utterances in the live routes file, as an operator's edit does."""
    routes = yaml.safe_load(routes_file.read_text(encoding="utf-8"))
    [found] = [r for r in routes["routes"] if r["name"] == route]
    found["utterances"] = edit(found["utterances"])
    routes_file.write_text(yaml.safe_dump(routes), encoding="utf-8")


@pytest.fixture
def restore_routes(api, proxy):
    yield proxy.routes_file
    reloaded = proxy.log.text().count(RELOADED)
    proxy.routes_file.write_text(proxy.routes_text, encoding="utf-8")

    # The proxy is shared by every test of the session: the next one must find the shipped routes.
    def restored() -> bool:
        return routed_model(api, GENERAL) == "phi2" and proxy.log.text().count(RELOADED) > reloaded

    until("the shipped routes reloaded", restored, detail=proxy.log.tail)


def test_new_utterances_in_the_live_routes_file_move_the_next_request_without_a_restart(
    api, proxy, restore_routes
):
    assert routed_model(api, GENERAL) == "phi2", "the puppy question should start on the base model"
    logged = len(proxy.log.text())
    edit_utterances(restore_routes, "dcot", lambda utterances: [*utterances, *PET_NAMING])
    wait_for_route(api, proxy, "dcot", GENERAL)
    assert RELOADED in proxy.log.text()
    assert '"event": "class_head_partly_off"' in proxy.log.text()[logged:], (
        "the proxy did not say the added utterances decide their messages without the class head"
    )
    assert routed_model(api) == "doctor", "an unrelated question moved with the edit"


def test_an_utterance_removed_from_the_live_routes_file_leaves_the_class_head_deciding_the_rest(
    api, proxy, restore_routes
):
    assert routed_model(api, STROKE) == "doctor", "the stroke's signs should start on doctor"
    logged = len(proxy.log.text())
    edit_utterances(restore_routes, "general", lambda utterances: utterances[1:])

    def reloaded() -> bool:
        routed_model(api, GENERAL)  # the file is checked on requests
        return RELOADED in proxy.log.text()[logged:]

    until("the edited routes reloaded", reloaded, detail=proxy.log.tail)
    assert '"event": "class_head_partly_off"' in proxy.log.text()[logged:] and (
        "removed (routes general)" in proxy.log.text()[logged:]
    ), "the proxy did not say the removed utterance decides its messages without the class head"
    assert routed_model(api, STROKE) == "doctor", (
        "the stroke's signs left doctor after an unrelated removal: the class head was turned off"
    )


def failed_reloads(proxy) -> float:
    return proxy.sample("semantic_router_reloads_total", result="failure") or 0.0


@pytest.mark.parametrize(
    "break_routes",
    [
        lambda path: path.write_text("routes: [\n  - name: doctor\n", encoding="utf-8"),
        lambda path: path.write_text("", encoding="utf-8"),
        lambda path: path.unlink(),
        lambda path: path.write_text(
            path.read_text(encoding="utf-8").replace("model: doctor\n", "model: docter\n"), encoding="utf-8"
        ),
    ],
    ids=["invalid-yaml", "emptied", "deleted", "model-not-served"],
)
def test_a_broken_routes_file_is_logged_counted_and_routing_keeps_working(
    api, proxy, restore_routes, break_routes
):
    logged, counted = proxy.log.text().count("routes reload failed"), failed_reloads(proxy)
    break_routes(restore_routes)

    def reported() -> bool:
        assert routed_model(api) == "doctor", "routing changed while the broken routes were refused"
        return proxy.log.text().count("routes reload failed") > logged

    until("broken routes reported", reported, detail=proxy.log.tail)
    assert routed_model(api) == "doctor"
    assert failed_reloads(proxy) > counted, "failed reload not counted at /metrics"
