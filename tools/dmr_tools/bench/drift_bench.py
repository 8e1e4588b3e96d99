"""Drift: how the routes fare when their utterances change after the encoder was trained.

    .venv/bin/python -m dmr_tools.bench.drift_bench [--routes litellm-configs/routes.yaml]

Writes two copies of the routes file, one with a tenth of each route's utterances removed
(seeded) and one with a tenth more, new ones (dmr_tools/bench/drift-utterances.yaml: in no
training file, apart from every evaluation item), and measures all three on the project's
evaluation sets with the same encoder, not retrained. Prints dynamic_model_router.training.evaluate's table.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import yaml

from dmr_tools.paths import DATA
from dynamic_model_router.training.evaluate import compare

NEW_UTTERANCES = Path(__file__).with_name("drift-utterances.yaml")
SETS = ("routing-eval.jsonl", "conversations-eval.jsonl", "borders-eval.jsonl", "holdout-eval.jsonl")


def changed(routes: dict, removed: bool, rng: random.Random) -> dict:
    new = yaml.safe_load(NEW_UTTERANCES.read_text(encoding="utf-8"))
    for route in routes["routes"]:
        tenth = max(1, len(route["utterances"]) // 10)
        if removed:
            dropped = set(rng.sample(range(len(route["utterances"])), tenth))
            route["utterances"] = [u for i, u in enumerate(route["utterances"]) if i not in dropped]
        else:
            route["utterances"] += new[route["name"]][:tenth]
    return routes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", type=Path, default=Path("litellm-configs/routes.yaml"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = [args.routes]
        for name, removed in (("a-tenth-removed.yaml", True), ("a-tenth-added.yaml", False)):
            routes = yaml.safe_load(args.routes.read_text(encoding="utf-8"))
            path = Path(tmp) / name
            path.write_text(yaml.safe_dump(changed(routes, removed, random.Random(13))), encoding="utf-8")
            files.append(path)
        print(compare(files, [DATA / name for name in SETS]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
