"""The pairs the encoder is trained on: the project's texts in every pass, the public ones (which
outnumber them many times) only in their own passes, each paired within its route and across."""

from __future__ import annotations

from collections import Counter

from dynamic_model_router.training.train import Recipe, pairs

OWN = {
    "doctor": ["my knee hurts", "is a fever of 39 high"],
    "dcot": ["solve 2x + 3 = 7"],
    "general": ["a poem"],
}
PUBLIC = {
    "doctor": [f"public health question {i}" for i in range(6)],
    "dcot": [],
    "general": ["book a table"],
}


def test_public_texts_are_paired_in_their_own_passes_and_own_texts_in_every_pass():
    recipe = Recipe(passes=3, public_passes=1)
    found = pairs(OWN, {"general"}, ["and for kids?"], recipe, PUBLIC)
    firsts = Counter(a for a, _, _ in found)
    # Each pass pairs a text once within its route and once with another route.
    assert all(firsts[t] == 2 * 3 for texts in OWN.values() for t in texts), firsts
    assert all(firsts[t] == 2 for texts in PUBLIC.values() for t in texts), firsts
    assert firsts["and for kids?"] == 3, "a follow-up is pushed away once a pass"


def test_a_public_text_is_pulled_towards_its_routes_texts_and_pushed_from_the_others():
    found = pairs(OWN, {"general"}, [], Recipe(passes=1, public_passes=4), PUBLIC)
    route_of = {t: name for table in (OWN, PUBLIC) for name, texts in table.items() for t in texts}
    for a, b, target in found:
        if route_of[a] == route_of[b]:
            assert target == (0.5 if route_of[a] == "general" else 1.0), (a, b, target)
        else:
            assert target == 0.0, (a, b, target)
    partners = {b for a, b, _ in found if a.startswith("public health")}
    assert partners & set(OWN["doctor"]), "public doctor texts were never paired with the project's"


def test_without_public_data_nothing_public_is_paired():
    found = pairs(OWN, {"general"}, [], Recipe(passes=2, public_passes=5))
    assert len(found) == 2 * 2 * sum(len(t) for t in OWN.values())
