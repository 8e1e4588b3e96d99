"""Shadow decisions on the running stack (its values turn on the encoders and review volumes): a
candidate encoder put in the encoders volume and named in the live routes file decides beside the
live router while chats keep their answers; its agreement metrics and review sample appear; promoting
it moves routing within seconds, and rolling back moves it back. Same processes throughout."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dmr_tools.processes import environment, until
from dynamic_model_router.encoding.encoder import ENCODERS_DIR_ENV, SHIPPED_ENCODER, SHIPPED_MODEL_SHA256
from dynamic_model_router.observe.client_notice import ROUTE_HEADER
from dynamic_model_router.observe.review_sample import REVIEW_DIR_ENV
from support.prompts import MEDICAL, user

NAME = "strict-v2"
# The shipped encoder, copied into the volume as an operator would put a trained one there, with
# a threshold no route clears: every message a specialist takes, the candidate gives the base model.
ENCODER = {"path": NAME, "sha256": SHIPPED_MODEL_SHA256, "threads": 1}
STRICT = {"encoder": ENCODER, "threshold": 100.0}
SHIPPED = {"model": "sentence-transformers/all-MiniLM-L6-v2", "threads": 1}


@pytest.fixture(scope="module")
def volumes(stack) -> tuple[Path, Path]:
    """The encoders and review volumes, as the running proxy was given them."""
    env = environment(stack.run.running("litellm").pid)
    return Path(env[ENCODERS_DIR_ENV]), Path(env[REVIEW_DIR_ENV])


@pytest.fixture(scope="module")
def routes(proxy, volumes) -> Iterator[dict[str, Any]]:
    """The live routes as YAML, with the candidate encoder in the volume; all put back afterwards."""
    encoders, _ = volumes
    if not (encoders / NAME).exists():
        staging = encoders / f".{NAME}.partial"
        shutil.copytree(SHIPPED_ENCODER, staging)
        staging.rename(encoders / NAME)  # whole or not at all, as the runbook says
    yield yaml.safe_load(proxy.routes_text)
    proxy.routes_file.write_text(proxy.routes_text, encoding="utf-8")


def write(proxy, routes: dict[str, Any], **changes: Any) -> None:
    proxy.routes_file.write_text(yaml.safe_dump(routes | changes, sort_keys=False), encoding="utf-8")


def switch(proxy, routes: dict[str, Any], expected: str, what: str, **changes: Any) -> float:
    """Edit the live routes; the seconds until the medical question goes to `expected`."""
    started = time.monotonic()
    write(proxy, routes, **changes)
    until(
        f"routing to follow {what}",
        lambda: answered_by(proxy, MEDICAL) == expected,
        timeout_s=60,
        interval_s=0.2,
    )
    return round(time.monotonic() - started, 2)


def answered_by(proxy, text: str) -> str:
    response = proxy.chat(user(text))
    assert response.status_code == 200, (
        f"a chat failed during the test: {response.status_code} {response.text}"
    )
    return response.headers[ROUTE_HEADER]


def shadow_count(proxy, agree: str) -> float:
    return (
        proxy.sample(
            "semantic_router_shadow_decisions_total",
            candidate=NAME,
            route="doctor",
            candidate_route="none",
            agree=agree,
        )
        or 0.0
    )


def test_a_candidate_encoder_shadows_live_traffic_then_is_promoted_and_rolled_back(
    proxy, volumes, routes, record_property
):
    _, review = volumes
    assert answered_by(proxy, MEDICAL) == "doctor", "the live routes send the medical question to doctor"
    write(proxy, routes, candidate={"name": NAME, "review": True, **STRICT})
    until(
        "the proxy to start the candidate's shadow",
        lambda: (
            proxy.chat(user("hello")) is not None
            and proxy.sample("semantic_router_candidate_active", candidate=NAME) == 1
        ),
        timeout_s=60,
        interval_s=0.5,
    )
    for _ in range(3):
        assert answered_by(proxy, MEDICAL) == "doctor", "a shadow changed an answer"
    until(
        "the disagreements to be counted",
        lambda: shadow_count(proxy, "no") >= 3,
        timeout_s=30,
        interval_s=0.5,
    )
    assert (proxy.sample("semantic_router_shadow_decision_seconds_count", candidate=NAME) or 0) >= 3

    def rows() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for path in review.glob(f"{NAME}-*.jsonl")
            for line in path.read_text().splitlines()
        ]

    until("the review sample to hold them", lambda: len(rows()) >= 3)
    row = rows()[0]
    assert row["messages"] == user(MEDICAL) and row["route"] is None, row
    assert row["live"]["model"] == "doctor" and row["candidate"] == {
        "name": NAME,
        "route": None,
        "model": "phi2",
    }
    logged = [
        json.loads(line[line.index("{") :])
        for line in proxy.log.text().splitlines()
        if '"shadow_decision"' in line
    ]
    assert logged and {"route", "candidate_route"} <= set(logged[-1]), "the log line names both routes"
    assert MEDICAL not in proxy.log.text(), "a prompt reached the proxy's log"

    # Promote: the candidate's settings become the live ones; the old ones stay named as the candidate.
    promoted = {"encoder": ENCODER, "threshold": 100.0, "candidate": {"name": "shipped", "encoder": SHIPPED}}
    record_property("promote_s", switch(proxy, routes, "phi2", "the promoted candidate", **promoted))
    # Roll back: the same swap the other way.
    rolled_back = {"candidate": {"name": NAME, **STRICT}}
    record_property("rollback_s", switch(proxy, routes, "doctor", "the rollback", **rolled_back))
