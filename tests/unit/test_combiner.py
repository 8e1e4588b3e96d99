"""The seam for decision signals: the combiner turns evidence into a route and its reason, and a
signal added to the registry changes decisions with no other edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from dynamic_model_router.decide import decider as decider_module
from dynamic_model_router.decide.combiner import combine
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.decide.signals import SIGNALS
from dynamic_model_router.decide.signals.base import Conversation, Evidence, Lookups
from dynamic_model_router.routes_file import RoutesConfig
from support.prompts import GENERAL, user

ROUTES = ["doctor", "dcot", "general"]
THRESHOLDS = dict.fromkeys(ROUTES, 0.5)


def test_the_highest_total_wins_with_the_primary_signals_reason_when_it_is_its_own_best():
    vote = Evidence(scores={"doctor": 2.0, "dcot": 1.0, "general": 0.0}, reason=Reason.ROUTE)
    assert combine(THRESHOLDS, [vote]) == ("doctor", 2.0, Reason.ROUTE, 1.0, None)


def test_a_route_a_later_signal_carried_past_the_primary_choice_takes_that_signals_reason():
    vote = Evidence(scores={"doctor": 0.4, "dcot": 0.6, "general": 0.0}, reason=Reason.ROUTE)
    history = Evidence(scores={"doctor": 1.0}, reason=Reason.STICKY)
    route, score, reason, margin, model = combine(THRESHOLDS, [vote, history])
    assert (route, reason, model) == ("doctor", Reason.STICKY, None)
    assert score == pytest.approx(1.4) and margin == pytest.approx(0.8)


def test_a_signal_that_silences_others_gives_the_decision_its_reason():
    vote = Evidence(scores={"doctor": 0.0, "dcot": 1.0, "general": 0.0}, reason=Reason.ROUTE)
    topic = Evidence(silences=frozenset({"history"}), reason=Reason.TOPIC_CHANGE)
    assert combine(THRESHOLDS, [vote, topic])[:3] == ("dcot", 1.0, Reason.TOPIC_CHANGE)


def test_a_best_total_below_its_routes_threshold_falls_back_with_no_route():
    vote = Evidence(scores={"doctor": 0.3, "dcot": 0.1, "general": 0.0}, reason=Reason.ROUTE)
    route, score, reason, _, model = combine(THRESHOLDS, [vote])
    assert (route, score, reason, model) == (None, 0.3, Reason.FALLBACK, None)


def test_a_signal_naming_a_model_for_the_winning_route_answers_it_and_only_that_route():
    vote = Evidence(scores={"doctor": 2.0, "dcot": 0.0, "general": 0.0}, reason=Reason.ROUTE)
    canary = Evidence(models={"doctor": "doctor-v2", "dcot": "dcot-v2"})
    assert combine(THRESHOLDS, [vote, canary])[4] == "doctor-v2"
    assert combine(THRESHOLDS, [vote, Evidence(models={"dcot": "dcot-v2"})])[4] is None


def test_a_route_that_puts_recall_first_wins_a_close_call_and_only_a_close_call():
    # The head gives doctor 0.3: at miss_cost 3 (1 / (1 + 3) = 0.25) that is a close call, at 2 not.
    vote = Evidence(scores={"doctor": 1.0, "dcot": 0.0, "general": 2.0}, reason=Reason.ROUTE)
    head = Evidence(scores={"doctor": 0.6, "general": 1.4}, probabilities={"doctor": 0.3, "general": 0.7})
    route, score, reason, margin, _ = combine(THRESHOLDS, [vote, head], {"doctor": 3.0})
    assert (route, score, reason) == ("doctor", 1.6, Reason.CLOSE_CALL) and margin == pytest.approx(-1.8)
    assert combine(THRESHOLDS, [vote, head], {"doctor": 2.0})[0] == "general", "0.3 is below 1 / (1 + 2)"
    assert combine(THRESHOLDS, [vote, head])[0] == "general", "without miss_cost the best total wins"
    assert combine(THRESHOLDS, [vote], {"doctor": 3.0})[0] == "general", "no probability, no close call"


def test_a_close_call_still_needs_the_preferred_routes_threshold():
    vote = Evidence(scores={"doctor": 0.45, "dcot": 0.0, "general": 0.5}, probabilities={"doctor": 0.45})
    assert combine(THRESHOLDS, [vote], {"doctor": 3.0})[0] == "general"


@dataclass(frozen=True)
class AlwaysDcot:
    """A test signal: every request leans hard towards dcot."""

    name: ClassVar[str] = "always_dcot"

    async def evidence(self, conversation: Conversation) -> Evidence:
        return Evidence(scores={"dcot": 100.0})


def always_dcot(config: RoutesConfig, lookups: Lookups) -> AlwaysDcot:
    return AlwaysDcot()


def test_a_signal_added_to_the_registry_changes_decisions_with_no_other_edit(
    default_routes: RoutesConfig, decider: RouteDecider, monkeypatch: pytest.MonkeyPatch
):
    assert decider.decide(user(GENERAL)).model == "phi2", "the control: a general message goes to phi2"
    monkeypatch.setattr(decider_module, "SIGNALS", (*SIGNALS, always_dcot))
    with_signal = RouteDecider(default_routes, decider.encoder)
    assert [s.name for s in with_signal.signals][-1] == "always_dcot"
    decision = with_signal.decide(user(GENERAL))
    assert (decision.model, decision.reason) == ("dcot", Reason.ROUTE), decision
