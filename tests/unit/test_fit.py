"""Fitting the routes file's conversation settings (dynamic_model_router.training.fit)."""

from __future__ import annotations

from collections import Counter

import pytest

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.training import fit
from dynamic_model_router.training.labelled import Item


def test_the_fit_embeds_each_training_turn_once_however_many_grid_points_it_tries(
    decider: RouteDecider, monkeypatch: pytest.MonkeyPatch
):
    # More distinct turns than the encoder remembers (256 messages), as the training data has.
    items = [Item([{"role": "user", "content": f"what is {n} times {n + 3}?"}], "dcot") for n in range(300)]
    monkeypatch.setattr(fit, "HISTORY_WEIGHTS", (0.5, 0.6))
    monkeypatch.setattr(fit, "THRESHOLDS", (0.5, 1.0))
    encoder_type = type(decider.encoder)
    embedded: Counter[str] = Counter()
    embed = encoder_type.__call__

    def counted(self, docs):
        embedded.update(docs)
        return embed(self, docs)

    monkeypatch.setattr(encoder_type, "__call__", counted)
    fit.fit(decider.config, decider, items)
    again = {text: n for text, n in embedded.items() if n > 1 and text.startswith("what is ")}
    assert not again, f"{len(again)} training turns were embedded more than once, e.g. {next(iter(again))!r}"
    assert sum(text.startswith("what is ") for text in embedded) == len(items), "not every turn was decided"
