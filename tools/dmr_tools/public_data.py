"""Build the router's public training data (litellm-configs/.../training/data/public/) from public
repositories at pinned commits, with each file's source, license and filter in SOURCES.yaml.

    python -m dmr_tools.public_data --mirrors DIR

DIR holds a git repository of each source (DIR/<owner>+<name>/repo, as the snapshot tool lays them
out, or DIR/<owner>+<name>) that contains the pinned commit; nothing is downloaded here. Each item
is labelled by its content, not by its source alone: every source has a recorded rule that drops
what its route does not cover, and every item near a measured item (the public benchmark and the
project's own evaluation sets, token Jaccard > 0.5) is dropped. The same snapshots give the same files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from dmr_tools.paths import DATA, ROOT, ROUTER
from dynamic_model_router.training.overlap import near_duplicates

OUT = ROUTER / "dynamic_model_router" / "training" / "data" / "public"
BENCHMARK = ROOT.parent / "shared" / "datasets" / "routing-dev.jsonl"
SEED = 20261202
# An item this close to a measured one is the same item reworded (as tests/unit/test_training_data.py).
SAME = 0.5
MAX_CHARS = 1500

# Words of a health question: a general or reasoning item holding one is not taken (the rule is
# broad on purpose: losing a general item costs little, teaching `general` a health question costs much).
HEALTH = re.compile(
    r"\b(doctor|symptom|pain|fever|disease|diagnos|medic|pill|dose|prescri|surgery|injur|infect|cancer|"
    r"diabet|pregnan|blood|heart|vaccin|allerg|rash|headache|migraine|cough|vomit|nause|therap|depress|"
    r"anxi|mental|health|hospital|nurse|clinic|sick|ill|illness|virus|covid|tumou?r|ache|sore|swell|"
    r"swollen|bleed|wound|poison|overdose|drug|antibiotic|insulin|cholesterol|stroke|seizure|asthma|"
    r"calorie|diet|nutrition|vitamin|patient|sleep|weight|suicid|pregnancy|baby|infant)\w*",
    re.I,
)
# Words of a problem to work out: a general item holding one is not taken.
REASONING = re.compile(
    r"\b(solve|equation|calculate|compute|how many|how much|probability|percent|sum of|integer|prime|"
    r"puzzle|riddle|logic|derivative|integral|prove|proof|theorem|math|maths|arithmetic|algebra|"
    r"geometry|factori[sz]e|fraction)\b|\d+\s*[-+*/x×^]\s*\d+",
    re.I,
)
# Counsel Chat topics that are a person's own mental health (the others, such as relationships,
# parenting or workplace conflict, are left out rather than guessed).
COUNSEL_HEALTH_TOPICS = {
    "depression", "anxiety", "trauma", "self-harm", "eating-disorders", "addiction", "substance-abuse",
    "sleep-improvement", "stress", "anger-management", "diagnosis",
}  # fmt: skip
# CLINC150 intents whose queries are health or arithmetic, or an assistant's own small talk.
CLINC_LEFT_OUT = {"calculator", "vaccines", "calories", "nutrition_info", "yes", "no", "maybe", "repeat"}


@dataclass(frozen=True)
class Source:
    file: str
    route: str
    repository: str
    commit: str
    paths: tuple[str, ...]
    license: str
    rule: str
    read: Callable[[Callable[[str], str]], Iterator[str]]
    sample: int | None = None


def _json(show: Callable[[str], str], path: str):
    return json.loads(show(path))


def _jsonl(show: Callable[[str], str], path: str) -> Iterator[dict]:
    return (json.loads(line) for line in show(path).split("\n") if line.strip())


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def medical_questions(show):
    for item in _json(show, "questionDoctorQAs.json"):
        yield item["question"]
    for item in _json(show, "icliniqQAs.json"):
        text = _clean(item["question_text"])
        yield re.sub(r"^(hi|hello|hey)( doctor)?,?\s*", "", text, flags=re.I) or item["question"]
    for item in _json(show, "ehealthforumQAs.json"):
        yield item["question"]


def counsel_chat(show):
    rows = csv.DictReader(io.StringIO(show("data/20200325_counsel_chat.csv")))
    seen = set()
    for row in rows:
        if row["questionID"] in seen or row["topic"] not in COUNSEL_HEALTH_TOPICS:
            continue
        seen.add(row["questionID"])
        yield _clean(f"{row['questionTitle']} {row['questionText']}")


def gsm8k(show):
    return (row["question"] for row in _jsonl(show, "grade_school_math/data/train.jsonl"))


def strategyqa(show):
    return (
        row["question"]
        for row in _json(show, "data/strategyqa/train.json")
        if not HEALTH.search(row["question"])
    )


def arena_math(show):
    return (
        row["prompt"]
        for row in _jsonl(show, "data/arena-hard-v2.0/question.jsonl")
        if row["subcategory"] == "math"
    )


def arena_general(show):
    for path in ("data/arena-hard-v0.1/question.jsonl", "data/arena-hard-v2.0/question.jsonl"):
        for row in _jsonl(show, path):
            if row.get("subcategory") != "math":
                yield row["prompt"] if "prompt" in row else row["turns"][0]["content"]


def open_assistant(show):
    for path in (
        "model/model_eval/manual/data/prompt_lottery_en_250_text.jsonl",
        "model/model_eval/manual/data/en_100_text.jsonl",
    ):
        yield from (json.loads(line) for line in show(path).split("\n") if line.strip())


def clinc(show):
    data = _json(show, "data/data_full.json")
    for text, intent in data["train"] + data["val"]:
        if intent not in CLINC_LEFT_OUT:
            yield text


def general_only(read):
    """A general source's items without health or reasoning words."""

    def only(show):
        return (t for t in read(show) if not HEALTH.search(t) and not REASONING.search(t))

    return only


SOURCES = [
    Source(
        "doctor-medical-questions.jsonl", "doctor", "LasseRegin/medical-question-answer-data",
        "685c9168058f0d68335fdbf728d221afcc71d1a6",
        ("questionDoctorQAs.json", "icliniqQAs.json", "ehealthforumQAs.json"), "MIT",
        "every question (consumer health questions asked on three health sites; iCliniq's full text without "
        "its greeting, the others' question titles)", medical_questions,
    ),
    Source(
        "doctor-counsel-chat.jsonl", "doctor", "nbertagnolli/counsel-chat",
        "e202e19c5002482f4f6631af754c276dd9adf7f2", ("data/20200325_counsel_chat.csv",), "MIT",
        "each question once (title and text), topics " + ", ".join(sorted(COUNSEL_HEALTH_TOPICS)),
        counsel_chat,
    ),
    Source(
        "dcot-gsm8k-train.jsonl", "dcot", "openai/grade-school-math",
        "3101c7d5072418e28b9008a6636bde82a006892c",
        ("grade_school_math/data/train.jsonl",), "MIT",
        "a random sample of the train split's questions (the benchmark samples the test split)", gsm8k, 1500,
    ),
    Source(
        "dcot-strategyqa-train.jsonl", "dcot", "eladsegal/strategyqa",
        "1ba1e97452e189569357876f2854b01357ffbe37",
        ("data/strategyqa/train.json",), "MIT",
        "a random sample of the questions without health words (the benchmark samples a copy of this file: "
        "its items are removed first)",
        strategyqa,
        800,
    ),
    Source(
        "dcot-arena-hard-math.jsonl", "dcot", "lmarena/arena-hard-auto",
        "196f6b826783b3da7310e361a805fa36f0be83f3",
        ("data/arena-hard-v2.0/question.jsonl",), "Apache-2.0", "subcategory math", arena_math,
    ),
    Source(
        "general-arena-hard.jsonl", "phi2", "lmarena/arena-hard-auto",
        "196f6b826783b3da7310e361a805fa36f0be83f3",
        ("data/arena-hard-v0.1/question.jsonl", "data/arena-hard-v2.0/question.jsonl"), "Apache-2.0",
        "v0.1 and v2.0 coding and creative writing, without health or reasoning words",
        general_only(arena_general),
    ),
    Source(
        "general-open-assistant.jsonl", "phi2", "LAION-AI/Open-Assistant",
        "f1e6ed9526f5817531f3ab85441a40b3671ddccb",
        (
            "model/model_eval/manual/data/prompt_lottery_en_250_text.jsonl",
            "model/model_eval/manual/data/en_100_text.jsonl",
        ),
        "Apache-2.0", "real users' prompts without health or reasoning words", general_only(open_assistant),
    ),
    Source(
        "general-clinc150.jsonl", "phi2", "clinc/oos-eval",
        "828f8093932c8fe6ca7936c3d2e52903b1c523de",
        ("data/data_full.json",), "CC-BY-3.0",
        "a random sample of train and val queries, intents " + ", ".join(sorted(CLINC_LEFT_OUT))
        + " left out, and none with health or reasoning words",
        general_only(clinc), 1500,
    ),
]  # fmt: skip


def git_show(mirrors: Path, source: Source) -> Callable[[str], str]:
    owner_name = source.repository.replace("/", "+")
    git_dir = next((p for p in (mirrors / owner_name / "repo", mirrors / owner_name) if p.exists()), None)
    if git_dir is None:
        raise SystemExit(f"no repository of {source.repository} in {mirrors} (DIR/{owner_name}/repo)")

    def show(path: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(git_dir), "show", f"{source.commit}:{path}"], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SystemExit(f"{source.repository}@{source.commit[:7]}:{path}: {result.stderr.strip()}")
        return result.stdout

    return show


def measured_texts() -> list[str]:
    texts = [json.loads(line)["text"] for line in BENCHMARK.read_text(encoding="utf-8").splitlines() if line]
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            turns = row.get("messages") or [{"role": "user", "content": row["text"]}]
            texts += [m["content"] for m in turns if m["role"] == "user"]
    return texts


def build(
    source: Source, show: Callable[[str], str], measured: list[str]
) -> tuple[list[str], dict[str, int]]:
    texts = list(
        dict.fromkeys(t for t in (_clean(x) for x in source.read(show)) if 10 <= len(t) <= MAX_CHARS)
    )
    near = near_duplicates(texts, measured, SAME)
    kept = [t for i, t in enumerate(texts) if i not in near]
    if source.sample is not None and len(kept) > source.sample:
        kept = random.Random(f"{SEED}:{source.file}").sample(kept, source.sample)
    return kept, {"read": len(texts), "near_a_measured_item": len(near), "kept": len(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mirrors", type=Path, required=True, help="folder of the sources' git repositories")
    args = parser.parse_args()
    measured = measured_texts()
    OUT.mkdir(parents=True, exist_ok=True)
    entries = []
    for source in SOURCES:
        texts, counts = build(source, git_show(args.mirrors, source), measured)
        rows = [{"text": t, "route": source.route} for t in texts]
        (OUT / source.file).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
        )
        entries.append(
            {
                "file": source.file,
                "route": source.route,
                "repository": source.repository,
                "commit": source.commit,
                "paths": list(source.paths),
                "license": source.license,
                "filter": f"{source.rule}; {MAX_CHARS} characters at most; duplicates and items within token "
                f"Jaccard {SAME} of a benchmark or evaluation item removed",
                **counts,
            }
        )
        print(f"{source.file}: {counts}")
    header = "# Written by `python -m dmr_tools.public_data`; see README.md beside it.\n"
    (OUT / "SOURCES.yaml").write_text(header + yaml.safe_dump(entries, sort_keys=False, width=110), "utf-8")


if __name__ == "__main__":
    main()
