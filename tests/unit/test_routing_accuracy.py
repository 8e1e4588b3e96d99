"""The accuracy the project commits to for its default routes, on its own labelled data.

The data in tests/data was written for this project (not taken from any benchmark):
routing-eval.jsonl has single messages, conversations-eval.jsonl multi-turn follow-ups, and
borders-eval.jsonl single messages on the confusable borders (everyday questions that mention
health work or the body, everyday troubleshooting and planning, "what if" speculation next to
"could X have ...?" reasoning), where the committed figure is lower. The holdout sets, single
messages and conversations, were written after the shipped encoder's training data and used for
no training and no choice of recipe: they measure how the router does on words it never saw.
The people sets (300 single messages, 60 conversations in people's words) and the safety sets (63
urgent health messages in stressed people's words, 62 everyday tasks that mention health words or
carry numbers) were written on 2026-12-02 before the class head's data and recipe were chosen.
The figures committed here are floors under what was measured, not goals (docs/results.md).
"""

from __future__ import annotations

import pytest

from dmr_tools.paths import DATA
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.training.evaluate import evaluate
from dynamic_model_router.training.labelled import read_items


@pytest.mark.parametrize(
    ("name", "committed"),
    [
        ("routing-eval.jsonl", 0.98),
        ("conversations-eval.jsonl", 0.96),
        ("borders-eval.jsonl", 0.92),
        ("holdout-eval.jsonl", 0.97),
        ("holdout-conversations-eval.jsonl", 0.92),
        ("people-eval.jsonl", 0.95),
        ("people-conversations-eval.jsonl", 0.95),
        ("safety-everyday-eval.jsonl", 0.92),
        ("safety-urgent-eval.jsonl", 0.98),
    ],
)
def test_default_routes_meet_the_committed_accuracy(decider: RouteDecider, name: str, committed: float):
    report = evaluate(decider, read_items(DATA / name))
    assert report.accuracy >= committed, (
        f"default routes route {report.accuracy:.3f} of {name} correctly, below the committed {committed}:\n"
        + report.text(show_misrouted=30)
    )


def test_every_target_model_is_well_represented_in_the_eval_data():
    items = read_items(DATA / "routing-eval.jsonl")
    counts = {m: sum(i.expected == m for i in items) for m in ("doctor", "dcot", "phi2")}
    assert min(counts.values()) >= 80, counts
