"""The near-duplicate check between training texts and measured items finds exactly the pairs that
comparing every pair finds, however the words are spread."""

from __future__ import annotations

import random

import pytest

from dynamic_model_router.training.overlap import jaccard, near_duplicates, words

VOCABULARY = [f"w{n}" for n in range(40)]


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(VOCABULARY[: rng.randint(5, 40)]) for _ in range(rng.randint(1, 12)))


@pytest.mark.parametrize("limit", [0.3, 0.5, 0.55, 0.8])
def test_the_prefix_filter_finds_what_comparing_every_pair_finds(limit: float):
    rng = random.Random(limit)
    texts = [sentence(rng) for _ in range(300)]
    others = [sentence(rng) for _ in range(300)] + texts[:20]
    found = near_duplicates(texts, others, limit)
    expected = {
        i: max(jaccard(words(t), words(o)) for o in others)
        for i, t in enumerate(texts)
        if max(jaccard(words(t), words(o)) for o in others) > limit
    }
    assert {i: round(s, 9) for i, (_, s) in found.items()} == {i: round(s, 9) for i, s in expected.items()}
    assert set(range(20)) <= set(found), "a text that is also among the others was not found"


def test_a_reworded_item_is_found_and_a_different_one_is_not():
    others = ["A bat and a ball cost $1.10 in total. How much is the ball?"]
    texts = ["a bat and a ball cost 1.10 in total, how much is the ball", "Write a haiku about the sea."]
    assert list(near_duplicates(texts, others, 0.5)) == [0]
