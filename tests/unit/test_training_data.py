"""The router's training data is apart from what it is measured on: no training text is close to an
evaluation item or to a public benchmark item; and every public file says where it came from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from dmr_tools.paths import DATA, ROOT, ROUTER
from dynamic_model_router.training.labelled import read_labelled
from dynamic_model_router.training.overlap import near_duplicates

TRAINING = ROUTER / "dynamic_model_router" / "training" / "data"
PUBLIC = TRAINING / "public"
BENCHMARK = ROOT.parent / "shared" / "datasets" / "routing-dev.jsonl"
# Token overlap (Jaccard) above which two texts count as the same item reworded.
SAME = 0.5
# The rule for the public benchmark (issue 25): no training item above this overlap with one of its items.
SAME_AS_BENCHMARK = 0.55
# Follow-ups are a few words, so two different ones share a larger part of their words.
SAME_FOLLOW_UP = 0.6
# Licenses that allow training on the text and shipping what was learned from it.
LICENSES = {"MIT", "Apache-2.0", "CC-BY-3.0", "CC-BY-4.0"}
PUBLIC_FILES = sorted(PUBLIC.glob("*.jsonl"))


def benchmark() -> list[str]:
    assert BENCHMARK.exists(), (
        f"the public benchmark {BENCHMARK} is missing: the check against it cannot be made (it sits in "
        "shared/datasets/ beside the checkout, as CI lays it out)"
    )
    return [json.loads(line)["text"] for line in BENCHMARK.read_text().splitlines() if line]


def evaluation() -> list[str]:
    return [
        turn
        for path in sorted(DATA.glob("*.jsonl"))
        for item in read_labelled(path).items
        for turn in item.user_turns
    ]


def too_close(texts: list[str], others: list[str], limit: float) -> list[str]:
    return [
        f"{texts[i]!r} ~ {others[j]!r} ({s:.2f})"
        for i, (j, s) in near_duplicates(texts, others, limit).items()
    ]


def user_turns(path: Path) -> list[str]:
    return [turn for item in read_labelled(path).items for turn in item.user_turns]


@pytest.mark.parametrize(
    "path",
    [TRAINING / name for name in ("examples.jsonl", "health-borders.jsonl", "conversations.jsonl")]
    + PUBLIC_FILES,
    ids=lambda p: str(p.relative_to(TRAINING)),
)
def test_no_labelled_training_text_is_close_to_an_evaluation_or_benchmark_item(path: Path):
    texts = user_turns(path)
    assert len(texts) >= 50, f"{path.name} holds only {len(texts)} texts"
    found = too_close(texts, evaluation() + benchmark(), SAME)
    assert not found, f"{len(found)} training texts of {path.name} reword measured items:\n" + "\n".join(
        found[:20]
    )


def test_no_follow_up_is_close_to_an_evaluation_or_benchmark_turn():
    lines = (TRAINING / "follow-ups.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    found = too_close(texts, evaluation() + benchmark(), SAME_FOLLOW_UP)
    assert not found, "follow-ups that copy measured turns:\n" + "\n".join(found)


def test_no_public_training_item_is_within_the_benchmark_rule_of_a_benchmark_item():
    texts = [t for path in PUBLIC_FILES for t in user_turns(path)]
    assert len(texts) > 5000, f"only {len(texts)} public training texts"
    found = too_close(texts, benchmark(), SAME_AS_BENCHMARK)
    assert not found, f"{len(found)} public training items near benchmark items:\n" + "\n".join(found[:20])


def sources() -> list[dict]:
    return yaml.safe_load((PUBLIC / "SOURCES.yaml").read_text(encoding="utf-8"))


def test_every_public_training_file_has_its_source_license_and_filter_and_nothing_else_is_listed():
    entries = {entry["file"]: entry for entry in sources()}
    assert sorted(entries) == [p.name for p in PUBLIC_FILES], "SOURCES.yaml and the files in public/ differ"
    for name, entry in entries.items():
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", entry["repository"]), (
            f"{name}: repository {entry['repository']!r}"
        )
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), (
            f"{name}: commit {entry['commit']!r} is no full hash"
        )
        assert entry["paths"] and all(isinstance(p, str) and p for p in entry["paths"]), f"{name}: no paths"
        assert entry["license"] in LICENSES, (
            f"{name}: license {entry['license']!r} is not one that allows training"
        )
        assert len(entry["filter"]) > 40, f"{name}: the filter is not described: {entry['filter']!r}"
        items = read_labelled(PUBLIC / name).items
        assert len(items) == entry["kept"], f"{name}: {len(items)} rows, SOURCES.yaml says {entry['kept']}"
        assert {i.expected for i in items} == {entry["route"]}, (
            f"{name}: rows labelled other than {entry['route']}"
        )


def test_every_route_has_at_least_a_thousand_public_training_items():
    counts: dict[str, int] = {}
    for entry in sources():
        counts[entry["route"]] = counts.get(entry["route"], 0) + entry["kept"]
    assert set(counts) == {"doctor", "dcot", "phi2"} and min(counts.values()) >= 1000, counts
