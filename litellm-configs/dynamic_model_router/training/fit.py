"""Fit the routes file's conversation settings to an encoder, on training data only.

    python -m dynamic_model_router.training.fit --routes routes.yaml --encoder DIR \
        --data train.jsonl... -o fitted.yaml

A trained encoder scores a clear message near the top of the scale and a vague one low, so the
history weight and threshold set for another encoder no longer fit. This tries every pair from
a grid and keeps the one that routes the most training items right (ties: the one closest to the
file's own values), then writes a copy of the routes file that loads the encoder (sha256 pinned)
with them. Give it labelled conversations and messages that were not used to train the encoder
and that no evaluation set holds: fitting on what you measure on flatters the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import yaml

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.encoding.encoder import MODEL_FILE
from dynamic_model_router.routes_file import RoutesConfig, load_routes
from dynamic_model_router.training.bases import MINILM_L6
from dynamic_model_router.training.labelled import Item, read_labelled
from dynamic_model_router.training.train import sha256_of

HISTORY_WEIGHTS = tuple(round(0.1 * n, 1) for n in range(2, 13))
THRESHOLDS = (0.3, 0.5, 0.75, 1.0, 1.5, 2.0)
K = TypeVar("K")


def accuracy(decider: RouteDecider, items: list[Item]) -> float:
    return sum(decider.decide(i.messages).model == i.expected for i in items) / len(items)


def routed_right(deciders: Mapping[K, RouteDecider], items: list[Item]) -> dict[K, int]:
    """How many items each decider routes to their expected model. Item by item, every decider in
    turn: the encoder remembers an item's turns between the deciders, so each turn is embedded
    once, however many deciders share the encoder."""
    right = dict.fromkeys(deciders, 0)
    for item in items:
        for key, decider in deciders.items():
            right[key] += decider.decide(item.messages).model == item.expected
    return right


def fit(config: RoutesConfig, decider: RouteDecider, items: list[Item]) -> tuple[float, float, float]:
    """The (history_weight, threshold) that route the most items right, and that accuracy."""
    deciders = {
        (weight, threshold): RouteDecider(
            config.model_copy(update={"history_weight": weight, "threshold": threshold}), decider.encoder
        )
        for weight in HISTORY_WEIGHTS
        for threshold in THRESHOLDS
    }
    results = [
        (
            -right / len(items),
            abs(weight - config.history_weight) + abs(threshold - config.threshold),
            weight,
            threshold,
        )
        for (weight, threshold), right in routed_right(deciders, items).items()
    ]
    best = min(results)
    return best[2], best[3], -best[0]


def with_encoder(config: RoutesConfig, encoder: Path) -> RoutesConfig:
    """The routes, loading the encoder in `encoder` (its sha256 pinned; its base model and vector
    size from the training.json training wrote, when there is one)."""
    update = {
        "path": str(encoder.resolve()),
        "sha256": sha256_of(encoder / MODEL_FILE),
    }
    record = encoder / "training.json"
    if record.is_file():
        trained = json.loads(record.read_text(encoding="utf-8"))
        # Encoders trained before training.json recorded a dimension were all all-MiniLM-L6-v2.
        update |= {"model": trained["base_model"], "dimension": trained.get("dimension", MINILM_L6.dimension)}
    return config.model_copy(update={"encoder": config.encoder.model_copy(update=update)})


def write(routes: Path, config: RoutesConfig, out: Path) -> None:
    """`routes` with the encoder, history weight and threshold of `config` (comments are lost)."""
    data = yaml.safe_load(routes.read_text(encoding="utf-8"))
    chosen = config.encoder.model_dump(include={"model", "path", "sha256", "dimension"}, exclude_none=True)
    data["encoder"].update(chosen)
    data["history_weight"], data["threshold"] = config.history_weight, config.threshold
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamic_model_router.training.fit", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--routes", type=Path, required=True)
    parser.add_argument(
        "--encoder",
        type=Path,
        required=True,
        help="the encoder folder dynamic_model_router.training.train wrote",
    )
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="labelled training JSONL files")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the fitted routes file to write")
    args = parser.parse_args(argv)
    items = [item for path in args.data for item in read_labelled(path).items]
    config = with_encoder(load_routes(args.routes), args.encoder)
    decider = RouteDecider(config)
    before = accuracy(decider, items)
    weight, threshold, after = fit(config, decider, items)
    write(args.routes, config.model_copy(update={"history_weight": weight, "threshold": threshold}), args.out)
    print(
        f"history_weight {config.history_weight} -> {weight}, threshold {config.threshold} -> {threshold}: "
        f"{before:.3f} -> {after:.3f} of {len(items)} training items; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
