"""`make train`'s command, end to end on a small routes file: it writes an ONNX int8 encoder folder
the router loads with its sha256 pinned, whose vectors (like the shipped encoder's) do not depend on
the CPU, the same inputs and seed give the same file, and a labelled review file moves the trained
router's decisions on its own messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import onnxruntime
import pytest
import yaml

from dmr_tools.paths import ROOT, TRAIN_PYTHON
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.encoding.encoder import SHIPPED_ENCODER
from dynamic_model_router.routes_file import parse_routes
from dynamic_model_router.training.fit import with_encoder

ROUTES = {
    "virtual_model": "auto",
    "default_model": "phi2",
    "routes": [
        {
            "name": "doctor",
            "model": "doctor",
            "utterances": [
                "I have a fever and a sore throat, should I see a doctor?",
                "What are the side effects of ibuprofen?",
                "My child has a rash and a high temperature.",
                "Is my blood pressure of 150/95 too high?",
            ],
        },
        {
            "name": "dcot",
            "model": "dcot",
            "utterances": [
                "If 3 pencils cost $1, how much do 24 cost?",
                "Solve for x, 3x + 7 = 22.",
                "A train travels 180 km in 2.5 hours. What is its speed?",
                "Tom has twice as many marbles as Sam; together 36. How many has Tom?",
            ],
        },
        {
            "name": "general",
            "model": "phi2",
            "utterances": [
                "Write a short poem about the sea.",
                "What is the capital of France?",
                "Draft an email asking for a day off.",
                "Recommend a good science fiction book.",
            ],
        },
    ],
}
FOLLOW_UPS = ["and for kids?", "can you explain that again?", "what about 12?"]
# A team decides its doctor adapter also answers questions about pets' health, and marks so.
REVIEW = [
    {"text": "My dog keeps scratching his ears and shaking his head, what could it be?", "route": "doctor"},
    {"text": "Our cat stopped eating two days ago and hides under the bed.", "route": "doctor"},
    {"text": "My rabbit has a runny eye and sneezes a lot.", "route": "doctor"},
    {"text": "The puppy vomited twice after eating grass, should I worry?", "route": "doctor"},
    {"text": "My parrot is pulling out its feathers.", "route": "doctor"},
    {"text": "Is it normal for my hamster to sleep all day and drink a lot?", "route": "doctor"},
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("training")
    (folder / "routes.yaml").write_text(yaml.safe_dump(ROUTES), encoding="utf-8")
    (folder / "review.jsonl").write_text("".join(json.dumps(r) + "\n" for r in REVIEW), encoding="utf-8")
    (folder / "follow-ups.txt").write_text("".join(f"{turn}\n" for turn in FOLLOW_UPS), encoding="utf-8")
    return folder


def train(data: Path, out: str, *examples: str, base: str | None = None) -> dict:
    """`python -m dynamic_model_router.training.train` in the training environment; what it wrote in
    training.json."""
    if not TRAIN_PYTHON.exists():
        pytest.fail(f"{TRAIN_PYTHON} is missing: run `make setup` first")
    args = ["--routes", str(data / "routes.yaml"), "--follow-ups", str(data / "follow-ups.txt")]
    args += ["--out", str(data / out), "--passes", "5"]
    if examples:
        args += ["--examples", *(str(data / e) for e in examples)]
    if base:
        args += ["--base", base]
    done = subprocess.run(
        [str(TRAIN_PYTHON), "-m", "dynamic_model_router.training.train", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"training failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert f"path: {(data / out).resolve()}" in done.stdout, done.stdout
    return json.loads((data / out / "training.json").read_text(encoding="utf-8"))


def decider_for(data: Path, encoder: str) -> RouteDecider:
    """The small routes, loading the trained encoder as `make train`'s routes file would."""
    return RouteDecider(with_encoder(parse_routes(ROUTES), data / encoder))


@pytest.fixture(scope="module")
def trained(data: Path) -> dict:
    return train(data, "encoder")


def test_training_writes_an_int8_encoder_folder_the_router_loads_with_its_sha256_pinned(data, trained):
    folder = data / "encoder"
    assert {"model.onnx", "tokenizer.json", "config.json", "training.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert trained["routes_texts"] == {"doctor": 4, "dcot": 4, "general": 4}
    assert trained["follow_ups"]["count"] == len(FOLLOW_UPS)
    decider = decider_for(data, "encoder")
    assert decider.config.encoder.sha256 == trained["model_sha256"]
    decisions = [decider.decide([{"role": "user", "content": r["utterances"][0]}]) for r in ROUTES["routes"]]
    assert [d.model for d in decisions] == ["doctor", "dcot", "phi2"], decisions
    assert (folder / "model.onnx").stat().st_size < 30_000_000, "the weights were not quantized to int8"


def test_the_model_file_records_no_source_path_so_any_checkout_rebuilds_the_same_file(data, trained):
    model = (data / "encoder" / "model.onnx").read_bytes()
    assert b'File "' not in model, "the exporter's source locations (file and line) are in the model file"
    assert str(ROOT).encode() not in model, f"the checkout's path {ROOT} is in the model file"


def inexact_products(model: Path) -> list[str]:
    """portable.inexact_products of a model file, run in the training environment (it needs onnx)."""
    script = (
        "import json, sys; from pathlib import Path; "
        "from dynamic_model_router.training.portable import inexact_products; "
        "print(json.dumps(inexact_products(Path(sys.argv[1]))))"
    )
    done = subprocess.run(
        [str(TRAIN_PYTHON), "-c", script, str(model)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("which", ["trained", "shipped"])
def test_the_encoder_computes_the_same_vectors_on_every_cpu(data, trained, which):
    model = data / "encoder" / "model.onnx" if which == "trained" else SHIPPED_ENCODER / "model.onnx"
    assert inexact_products(model) == [], (
        f"the {which} encoder's integer products are not exact on this CPU's onnxruntime: signed int8 "
        "weights saturate on x86 CPUs without VNNI, so routing would depend on the node's CPU "
        "(training/portable.py)"
    )


def test_the_same_routes_and_seed_give_the_same_encoder(data, trained):
    again = train(data, "encoder-again")
    assert again["model_sha256"] == trained["model_sha256"], "training is not deterministic"


def test_a_labelled_review_file_moves_the_trained_routers_decisions_on_its_own_messages(data, trained):
    with_review = train(data, "encoder-reviewed", "review.jsonl")
    assert with_review["routes_texts"]["doctor"] == 4 + len(REVIEW)

    def reaching_their_model(encoder: str) -> int:
        decider = decider_for(data, encoder)
        return sum(
            decider.decide([{"role": "user", "content": r["text"]}]).model == r["route"] for r in REVIEW
        )

    before = reaching_their_model("encoder")
    after = reaching_their_model("encoder-reviewed")
    assert before < len(REVIEW), "the routes alone already send every reviewed message to its model"
    assert after == len(REVIEW), (
        f"after training on the review file {after} of {len(REVIEW)} reach their model"
    )


@pytest.mark.parametrize(
    ("base", "dimension", "inputs"),
    [
        # Its weights are read out of the package's ONNX file; training checks them against that
        # file's own output before it starts and stops if they differ.
        ("paraphrase-MiniLM-L3-v2", 384, ["input_ids", "attention_mask", "token_type_ids"]),
        # Put together from an archive split across five packages; MPNet's own tokenizer, no
        # token_type_ids, 768 dimensions.
        ("all-mpnet-base-v2", 768, ["input_ids", "attention_mask"]),
    ],
)
def test_another_base_encoder_trains_into_an_encoder_the_router_loads(data, base, dimension, inputs):
    record = train(data, f"encoder-{base}", base=base)
    assert (record["base_model"], record["dimension"]) == (f"sentence-transformers/{base}", dimension)
    model = onnxruntime.InferenceSession(str(data / f"encoder-{base}" / "model.onnx"))
    assert [i.name for i in model.get_inputs()] == inputs, "the ONNX model's inputs are not its tokenizer's"
    decider = decider_for(data, f"encoder-{base}")
    assert decider.config.encoder.model == record["base_model"], "the routes file would load another model"
    decisions = [decider.decide([{"role": "user", "content": r["utterances"][1]}]) for r in ROUTES["routes"]]
    assert [d.model for d in decisions] == ["doctor", "dcot", "phi2"], decisions
