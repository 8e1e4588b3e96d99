"""The class head: the shipped one is loaded beside the shipped encoder and adds to the vote; a head
fitted to another model, or damaged, is left out; and an operator's edit of the utterances takes
effect at once, without a new fit: the messages an added or removed utterance touches are decided
by the vote as edited, while the head keeps deciding the rest."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from dynamic_model_router.decide.class_head import (
    FOLLOW_UP,
    HEAD_FILE,
    ClassHead,
    load_head,
    routes_fingerprint,
    utterances_of,
)
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.encoding.encoder import SHIPPED_ENCODER, SHIPPED_MODEL_SHA256
from dynamic_model_router.routes_file import RouteConfig, RoutesConfig, parse_routes
from dynamic_model_router.training.head import fit_head
from support.prompts import user

RECORD = {
    "classes": ["doctor", "general"],
    "encoder_sha256": "a" * 64,
    "routes_sha256": "c" * 64,
    "weights": [[1.0, 0.0], [0.0, 1.0]],
    "bias": [0.0, 0.0],
    "weight": 2.0,
}


def test_the_heads_probabilities_sum_to_one_and_follow_its_weights():
    p = ClassHead.of(RECORD).probabilities([3.0, 4.0])
    assert p["doctor"] + p["general"] == pytest.approx(1.0) and p["general"] > p["doctor"], p


def test_the_shipped_head_is_loaded_with_the_shipped_encoder_and_its_fitted_weight(decider: RouteDecider):
    record = json.loads((SHIPPED_ENCODER / HEAD_FILE).read_text(encoding="utf-8"))
    assert record["encoder_sha256"] == SHIPPED_MODEL_SHA256, "head.json was fitted to another encoder"
    assert decider.head is not None and decider.head_weight == record["weight"] > 0


def test_class_head_weight_0_turns_the_head_off(default_routes: RoutesConfig, decider: RouteDecider):
    off = RouteDecider(default_routes.model_copy(update={"class_head_weight": 0.0}), decider.encoder)
    assert off.head is None
    text = "draft a short note for the office fridge asking people to label their food"
    assert off.decide(user(text)).score != decider.decide(user(text)).score


@pytest.mark.parametrize(
    ("record", "why"),
    [({**RECORD, "encoder_sha256": "b" * 64}, "fitted to model sha256"), ({**RECORD, "bias": [0.0]}, "bias")],
    ids=["another-model", "damaged"],
)
def test_a_head_fitted_to_another_model_or_damaged_is_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, record: dict, why: str
):
    (tmp_path / HEAD_FILE).write_text(json.dumps(record), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert load_head(tmp_path, "a" * 64) is None
    assert "class_head_unusable" in caplog.text and why in caplog.text


SQL = RouteConfig(
    name="sql",
    model="sql",
    utterances=(
        "Write a SQL query that lists customers who ordered more than three times.",
        "Why does my GROUP BY query fail with a non-aggregated column error?",
        "How do I join two tables in SQL and keep the rows without a match?",
        "What is the difference between WHERE and HAVING in SQL?",
        "How do I add an index to a PostgreSQL table to speed up a query?",
    ),
)


# Written for these tests: messages far from SQL, the head deciding some of them (the stroke's).
ELSEWHERE = [
    "grandma is slurring her words and one side of her face droops",
    "my son fell off his bike and hit his head, now he keeps throwing up",
    "write me a haiku about autumn",
    "if a shirt costs 20 after a 20% discount what was the price",
]
SQL_QUESTIONS = [
    "my sql left join drops rows that have no match, how do i keep them",
    "count orders per customer in sql",
]


def with_routes(config: RoutesConfig, *routes: RouteConfig) -> RoutesConfig:
    return config.model_copy(update={"routes": routes})


def test_an_operators_new_route_wins_its_messages_at_once_and_the_head_still_decides_the_rest(
    default_routes: RoutesConfig, decider: RouteDecider, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO):
        with_sql = RouteDecider(with_routes(default_routes, *default_routes.routes, SQL), decider.encoder)
    assert with_sql.head is not None, "adding a route turned the class head off"
    assert "class_head_partly_off" in caplog.text and "routes sql" in caplog.text, caplog.text
    for text in SQL_QUESTIONS:
        assert decider.decide(user(text)).model == "phi2", f"{text!r} was not the catch-all's before"
        assert with_sql.decide(user(text)).model == "sql", f"{text!r} did not reach the new route"
    vote_alone = RouteDecider(default_routes.model_copy(update={"class_head_weight": 0.0}), decider.encoder)
    changed = [t for t in ELSEWHERE if vote_alone.decide(user(t)).model != decider.decide(user(t)).model]
    assert changed, "no message here needs the head: the test would prove nothing"
    for text in ELSEWHERE:
        assert with_sql.decide(user(text)).model == decider.decide(user(text)).model, (
            f"{text!r}, far from SQL, is routed otherwise once the sql route is added"
        )


def without(config: RoutesConfig, route: str, utterance: str | None = None) -> RoutesConfig:
    """The routes without one utterance of a route, or (None) without the route."""
    return with_routes(
        config,
        *(
            r.model_copy(update={"utterances": tuple(u for u in r.utterances if u != utterance)})
            for r in config.routes
            if r.name != route or utterance is not None
        ),
    )


@pytest.mark.parametrize(
    ("route", "utterance", "near_it"),
    [
        ("doctor", "Is psoriasis contagious?", "can you catch psoriasis from someone who has it"),
        ("dcot", None, "a farmer counts 20 heads and 56 legs among his chickens and cows, how many cows"),
    ],
    ids=["an-utterance", "a-route"],
)
def test_an_operators_removal_decides_the_messages_near_it_and_the_head_still_decides_the_rest(
    default_routes: RoutesConfig,
    decider: RouteDecider,
    caplog: pytest.LogCaptureFixture,
    route: str,
    utterance: str | None,
    near_it: str,
):
    vote_alone = RouteDecider(default_routes.model_copy(update={"class_head_weight": 0.0}), decider.encoder)
    assert decider.decide(user(near_it)).score != vote_alone.decide(user(near_it)).score, (
        f"the head does not change {near_it!r}: the test would prove nothing"
    )
    edited_routes = without(default_routes, route, utterance)
    with caplog.at_level(logging.INFO):
        edited = RouteDecider(edited_routes, decider.encoder)
    assert edited.head is not None, "a removal turned the class head off: urgent messages would lose it"
    assert "class_head_partly_off" in caplog.text and f"removed (routes {route})" in caplog.text, caplog.text
    edited_vote = RouteDecider(edited_routes.model_copy(update={"class_head_weight": 0.0}), decider.encoder)
    decided, by_vote = edited.decide(user(near_it)), edited_vote.decide(user(near_it))
    assert (decided.model, decided.score) == (by_vote.model, by_vote.score), (
        f"{near_it!r}, near what was removed, is still decided with the head that learned it"
    )
    kept = {r.name for r in edited_routes.routes}
    elsewhere = [t for t in ELSEWHERE if decider.decide(user(t)).route in kept]
    changed = [t for t in elsewhere if vote_alone.decide(user(t)).model != decider.decide(user(t)).model]
    assert changed, "no message here needs the head: the test would prove nothing"
    for text in elsewhere:
        assert edited.decide(user(text)).model == decider.decide(user(text)).model, (
            f"{text!r}, far from what was removed, is routed otherwise after the removal"
        )


def test_a_head_that_does_not_record_its_utterances_is_turned_off_by_any_edit(
    default_routes: RoutesConfig, decider: RouteDecider
):
    assert decider.head is not None and decider.head.utterances is not None
    old = ClassHead(**{**decider.head.__dict__, "utterances": None})
    assert RouteDecider(default_routes, decider.encoder, old).head is old
    added = with_routes(default_routes, *default_routes.routes, SQL)
    assert RouteDecider(added, decider.encoder, old).head is None


def test_the_shipped_head_records_the_utterances_it_was_fitted_to(default_routes: RoutesConfig):
    record = json.loads((SHIPPED_ENCODER / HEAD_FILE).read_text(encoding="utf-8"))
    assert record["utterances"] == utterances_of(default_routes)
    assert record["routes_sha256"] == routes_fingerprint(default_routes)


def test_an_operators_added_utterances_move_a_message_to_their_route(
    default_routes: RoutesConfig, decider: RouteDecider
):
    text = "how do i get my toddler to eat vegetables without a fight every dinner"
    before = decider.decide(user(text)).model
    target = "phi2" if before != "phi2" else "doctor"
    added = (
        "How can I get my toddler to eat vegetables at dinner?",
        "My toddler refuses every vegetable, how do I get him to eat them?",
        "Tips for a picky toddler who fights about vegetables at dinner",
    )
    routes = tuple(
        r.model_copy(update={"utterances": (*r.utterances, *added)}) if r.model == target else r
        for r in default_routes.routes
    )
    after = RouteDecider(default_routes.model_copy(update={"routes": routes}), decider.encoder)
    assert after.decide(user(text)).model == target, f"three utterances for {target} did not move {text!r}"


def test_fitting_a_head_twice_on_the_same_data_gives_the_same_file_and_it_learns(
    tmp_path: Path, decider: RouteDecider
):
    routes = parse_routes(
        {
            "virtual_model": "auto",
            "default_model": "phi2",
            "routes": [
                {
                    "name": "doctor",
                    "model": "doctor",
                    "utterances": ["I have a fever, should I see a doctor?"],
                },
                {"name": "dcot", "model": "dcot", "utterances": ["Solve for x, 3x + 7 = 22."]},
                {"name": "general", "model": "phi2", "utterances": ["Write a short poem about the sea."]},
            ],
        }
    )
    rows = [
        ("my ankle is swollen after a fall, should i see someone", "doctor"),
        ("what helps a migraine that will not go away", "doctor"),
        ("a train goes 120 km in 1.5 hours, what is its speed", "dcot"),
        ("if 4 pens cost 6 dollars what do 10 cost", "dcot"),
        ("write a short poem about rain", "phi2"),
        ("suggest a name for my bakery", "phi2"),
    ] * 3
    examples = tmp_path / "examples.jsonl"
    examples.write_text(
        "".join(json.dumps({"text": t, "route": r}) + "\n" for t, r in rows), encoding="utf-8"
    )
    first, second = (fit_head(routes, SHIPPED_ENCODER, [examples]) for _ in range(2))
    first["fit"].pop("seconds"), second["fit"].pop("seconds")
    assert first == second, "two fits of the same data differ"
    head = ClassHead.of(first)
    assert head.classes == ("doctor", "dcot", "general", FOLLOW_UP)
    assert np.asarray(first["weights"]).shape == (4, 384)
    (vector,) = decider.encoder(["my knee hurts when i climb stairs"])
    probabilities = head.probabilities(vector)
    assert max(probabilities, key=probabilities.__getitem__) == "doctor", probabilities


def test_a_route_that_puts_recall_first_wins_a_message_the_head_gives_it_a_fair_chance(
    default_routes: RoutesConfig, decider: RouteDecider
):
    # A head that gives doctor 0.3 of every message's probability and general the rest; at weight 2
    # doctor's total (0.6) clears its threshold.
    head = ClassHead.of(
        {
            **RECORD,
            "classes": ["doctor", "dcot", "general"],
            "weights": np.zeros((3, 384)).tolist(),
            "bias": np.log([0.3, 0.0001, 0.6999]).tolist(),
            "weight": 2.0,
            "routes_sha256": routes_fingerprint(default_routes),
        }
    )
    text = "what's a good recipe for a quick weeknight pasta"
    routes = {r.name: r for r in default_routes.routes}

    def decide(miss_cost: float, turns: list[str]) -> tuple[str, str]:
        doctor = routes["doctor"].model_copy(update={"miss_cost": miss_cost})
        config = default_routes.model_copy(
            update={"routes": tuple(doctor if r.name == "doctor" else r for r in default_routes.routes)}
        )
        messages = [{"role": "user", "content": t} for t in [*turns, text]]
        decision = RouteDecider(config, decider.encoder, head).decide(messages)
        return decision.model, str(decision.reason)

    assert decide(1.0, [])[0] == "phi2", "without miss_cost the catch-all should win a recipe request"
    assert decide(3.0, []) == ("doctor", "close-call"), "doctor's 0.3 clears 1 / (1 + 3): a close call"
    assert decide(2.0, [])[0] == "phi2", "doctor's 0.3 is below 1 / (1 + 2): not a close call"
    assert decide(3.0, ["my knee hurts after running"]) == ("doctor", "close-call"), (
        "the rule holds in a conversation too"
    )
