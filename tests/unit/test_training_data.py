"""The shipped encoder's training data is the project's own and apart from what it is measured on:
no training text is close to an evaluation item or to a public benchmark item."""

from __future__ import annotations

import json
import re

import pytest

from dmr_tools.paths import DATA, ROOT, ROUTER
from dynamic_model_router.training.labelled import read_labelled

TRAINING = ROUTER / "dynamic_model_router" / "training" / "data"
BENCHMARK = ROOT.parent / "shared" / "datasets" / "routing-dev.jsonl"
# Token overlap (Jaccard) above which two texts count as the same item reworded.
SAME = 0.5
# Follow-ups are a few words, so two different ones share a larger part of their words.
SAME_FOLLOW_UP = 0.6


def words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def measured_on() -> list[tuple[str, frozenset[str]]]:
    texts = [
        (path.name, turn)
        for path in sorted(DATA.glob("*.jsonl"))
        for item in read_labelled(path).items
        for turn in item.user_turns
    ]
    assert BENCHMARK.exists(), (
        f"the public benchmark {BENCHMARK} is missing: the check against it cannot be made (it sits in "
        "shared/datasets/ beside the checkout, as CI lays it out)"
    )
    texts += [
        (BENCHMARK.name, json.loads(line)["text"]) for line in BENCHMARK.read_text().splitlines() if line
    ]
    return [(name, words(text)) for name, text in texts]


def too_close(texts: list[str], limit: float) -> list[str]:
    others = measured_on()
    found = []
    for text in texts:
        own = words(text)
        name, closest = max(others, key=lambda other: overlap(own, other[1]))
        if overlap(own, closest) > limit:
            found.append(f"{text!r} ~ {name}: {' '.join(sorted(closest))}")
    return found


@pytest.mark.parametrize("name", ["examples.jsonl", "conversations.jsonl"])
def test_no_labelled_training_text_is_close_to_an_evaluation_or_benchmark_item(name: str):
    texts = [turn for item in read_labelled(TRAINING / name).items for turn in item.user_turns]
    assert len(texts) > 100, f"{name} holds only {len(texts)} texts"
    found = too_close(texts, SAME)
    assert not found, f"{len(found)} training texts reword measured items:\n" + "\n".join(found[:20])


def test_no_follow_up_is_close_to_an_evaluation_or_benchmark_turn():
    lines = (TRAINING / "follow-ups.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    found = too_close(texts, SAME_FOLLOW_UP)
    assert not found, "follow-ups that copy measured turns:\n" + "\n".join(found)
