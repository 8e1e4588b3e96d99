"""Fit the router's class head: which route a message belongs to, learned from labelled data.

    python -m dynamic_model_router.training.head --routes routes.yaml --encoder DIR \
        --examples examples.jsonl public/*.jsonl

The utterance vote asks which route's utterances lie nearest; the catch-all route (`general`,
"everything else") is wider than any list of utterances. The head is a softmax regression over
the encoder's embedding, one class per route, fitted to every route's utterances and the labelled
single messages (the project's own and the public ones in data/public/), plus a class of
follow-ups (turns that lean on an earlier message, data/follow-ups.txt, whose probability goes to
no route), with the classes weighted equally. The decider adds its probabilities, times a weight,
to the vote's scores of every text (decide/class_head.py). The weight is the one that routes a
validation part of the data best, but never more than top_k: a message whose top_k nearest
utterances are all one route's, near-identical, still goes there, so an operator's utterances keep
the last word without a new fit.

The validation part (one text in five, chosen by a hash of the text) picks the regularisation and
the weight, and is then fitted too. numpy only: it runs where the router runs; embedding the texts
takes minutes, the fit seconds. The same inputs give the same head.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dynamic_model_router.decide.class_head import (
    FOLLOW_UP,
    HEAD_FILE,
    ClassHead,
    routes_fingerprint,
    utterances_of,
)
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.encoding.encoder import MODEL_FILE, load_encoder
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, RoutesConfig, load_routes
from dynamic_model_router.training.fit import routed_right, with_encoder
from dynamic_model_router.training.labelled import Item
from dynamic_model_router.training.train import DEFAULT_FOLLOW_UPS, classes, read_follow_ups, sha256_of

PENALTIES = (0.0, 1e-5, 1e-4)
STEPS = 2000


def is_validation(text: str) -> bool:
    return hashlib.sha256(text.encode()).digest()[0] % 5 == 0


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_softmax(
    x: np.ndarray, y: np.ndarray, n_classes: int, penalty: float
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced softmax regression with an L2 penalty, by full-batch gradient descent with
    Nesterov momentum (deterministic: no sampling)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    sample_weight = (len(y) / (n_classes * counts))[y] / len(y)
    onehot = np.eye(n_classes)[y]
    w = np.zeros((x.shape[1], n_classes))
    b = np.zeros(n_classes)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    rate, momentum = 2.0, 0.9
    for _ in range(STEPS):
        lw, lb = w + momentum * vw, b + momentum * vb
        error = (softmax(x @ lw + lb) - onehot) * sample_weight[:, None]
        vw = momentum * vw - rate * (x.T @ error + penalty * lw)
        vb = momentum * vb - rate * error.sum(axis=0)
        w, b = w + vw, b + vb
    return w, b


def labelled_texts(
    config: RoutesConfig, example_files: list[Path], follow_ups: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Every route's texts, then the follow-ups as class FOLLOW_UP; a text claimed twice is left out."""
    texts = {**classes(config, example_files), FOLLOW_UP: list(follow_ups)}
    owners: dict[str, set[str]] = {}
    for route, found in texts.items():
        for text in found:
            owners.setdefault(text, set()).add(route)
    pairs = [(t, label) for label, found in texts.items() for t in found if len(owners[t]) == 1]
    return [t for t, _ in pairs], [r for _, r in pairs]


def embed(encoder, texts: list[str], batch: int = 64) -> np.ndarray:
    """Unit vectors of the texts, embedded in batches of similar length (less padding)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), 0))
    for start in range(0, len(order), batch):
        chosen = order[start : start + batch]
        found = np.asarray(encoder([texts[i] for i in chosen]), dtype=np.float64)
        if not vectors.shape[1]:
            vectors = np.zeros((len(texts), found.shape[1]))
        vectors[chosen] = found
        if start // batch % 40 == 0:
            print(f"    embedded {start + len(chosen)}/{len(texts)}", flush=True)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fit_head(
    config: RoutesConfig, encoder_dir: Path, example_files: list[Path], follow_ups: Path = DEFAULT_FOLLOW_UPS
) -> dict:
    """head.json's content: the head, the data it saw and how it did on its validation part."""
    started = time.monotonic()
    routes = [r.name for r in config.routes] + [FOLLOW_UP]
    texts, labels = labelled_texts(config, example_files, read_follow_ups(follow_ups))
    config = with_encoder(config, encoder_dir)
    encoding = config.encoder.model_copy(update={"threads": os.cpu_count() or 1})
    config = config.model_copy(update={"encoder": encoding})
    encoder = load_encoder(config.encoder)
    print(f"==> embedding {len(texts)} texts with {encoder_dir}", flush=True)
    x = embed(encoder, texts)
    y = np.array([routes.index(r) for r in labels])
    held = np.array([is_validation(t) for t in texts])

    def validation_loss(w: np.ndarray, b: np.ndarray) -> float:
        p = softmax(x[held] @ w + b)[np.arange(held.sum()), y[held]]
        return float(-np.log(np.clip(p, 1e-12, 1)).mean())

    fits = {penalty: fit_softmax(x[~held], y[~held], len(routes), penalty) for penalty in PENALTIES}
    losses = {penalty: validation_loss(*fit) for penalty, fit in fits.items()}
    penalty = min(losses, key=losses.__getitem__)
    head = ClassHead.of(head_record(config, routes, *fits[penalty], encoder_dir))
    # The weight: the one whose decisions (vote plus head, the decider as it runs) send the most
    # validation texts to their route's model; among equals, the smallest. A follow-up alone
    # has no route to reach.
    model_of = {r.name: r.model for r in config.routes}
    items = [
        Item([{"role": "user", "content": t}], model_of[routes[label]])
        for t, label, h in zip(texts, y, held, strict=True)
        if h and label < len(model_of)
    ]
    deciders = {
        weight: RouteDecider(config.model_copy(update={"class_head_weight": float(weight)}), encoder, head)
        for weight in range(config.top_k + 1)
    }
    accuracy = {weight: n / len(items) for weight, n in routed_right(deciders, items).items()}
    for weight, share in accuracy.items():
        print(f"    weight {weight}: {share:.3f} of {len(items)} validation texts", flush=True)
    weight = max(accuracy, key=lambda v: (accuracy[v], -v))
    w, b = fit_softmax(x, y, len(routes), penalty)
    return {
        **head_record(config, routes, w, b, encoder_dir),
        "weight": float(weight),
        "trained_on": {
            "files": [{"file": p.name, "sha256": sha256_of(p)} for p in [*example_files, follow_ups]],
            "texts": {r: labels.count(r) for r in routes},
            "validation_texts": int(held.sum()),
        },
        "fit": {
            "l2": penalty,
            "validation_log_loss": {str(k): round(v, 4) for k, v in losses.items()},
            "validation_accuracy_by_weight": {str(k): round(v, 4) for k, v in accuracy.items()},
            "seconds": round(time.monotonic() - started),
        },
    }


def head_record(
    config: RoutesConfig, classes: list[str], w: np.ndarray, b: np.ndarray, encoder_dir: Path
) -> dict:
    return {
        "classes": classes,
        "routes_sha256": routes_fingerprint(config),
        "encoder_sha256": sha256_of(encoder_dir / MODEL_FILE),
        "weights": np.round(w.T, 6).tolist(),
        "bias": np.round(b, 6).tolist(),
        "weight": 1.0,
        # What an operator's later edit is told apart by (decide/class_head.py).
        "utterances": utterances_of(config),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamic_model_router.training.head", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--routes", type=Path, default=DEFAULT_ROUTES_FILE, help="the routes file")
    parser.add_argument(
        "--encoder", type=Path, required=True, help="the encoder folder; head.json goes there"
    )
    parser.add_argument("--examples", type=Path, nargs="*", default=[], help="labelled JSONL files")
    parser.add_argument(
        "--follow-ups",
        type=Path,
        default=DEFAULT_FOLLOW_UPS,
        help="follow-up turns, one a line (a class of their own)",
    )
    args = parser.parse_args(argv)
    record = fit_head(load_routes(args.routes), args.encoder.resolve(), args.examples, args.follow_ups)
    (args.encoder / HEAD_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.encoder / HEAD_FILE} (weight {record['weight']}, l2 {record['fit']['l2']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
