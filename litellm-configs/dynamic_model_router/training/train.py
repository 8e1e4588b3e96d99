"""Fit the router's encoder to a routes file, and write it as an ONNX int8 encoder folder.

    make train     (or, in .venv-train: python -m dynamic_model_router.training.train --out DIR ...)

Contrastive fine-tuning of a base encoder (--base: all-MiniLM-L6-v2, the default,
paraphrase-MiniLM-L3-v2 or all-mpnet-base-v2; see bases.py) on pairs drawn from the routes file,
in passes: each example of a route with another of the same route (pulled together) and with one
of another route (pushed apart).
A route's examples are its utterances plus the single messages labelled with its model in
--examples files (a reviewed ratings file, say). A route of the base model (the catch-all
"everything else") is pulled together only half way: its examples share no topic. Follow-ups
(turns that lean on an earlier message, --follow-ups) are only pushed away from every route, so
that a follow-up's own words do not outvote its conversation's history.
Then the transformer is exported to ONNX (torch's exporter) and its weights quantized to int8
per channel (onnxruntime's quantize_dynamic), stored so that every CPU computes the same vectors
(portable.py): a folder the router loads through the routes
file's `encoder` settings, with the sha256 to pin. The same inputs and seed give the same file.

Training needs torch and sentence-transformers, which the proxy never loads: it runs in its own
environment (`make train` installs .venv-train from training/requirements-train.txt).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, RoutesConfig, load_routes
from dynamic_model_router.training import bases
from dynamic_model_router.training.labelled import read_labelled

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
DEFAULT_FOLLOW_UPS = Path(__file__).with_name("data") / "follow-ups.txt"


@dataclass(frozen=True)
class Recipe:
    passes: int = 5
    learning_rate: float = 2e-5
    batch_size: int = 16
    seed: int = 13
    # The cosine similarity two examples of a base-model route are pulled towards.
    base_similarity: float = 0.5
    # Passes over the public examples (--public), which outnumber the project's own many times:
    # with as many passes as those, they would outweigh the routes' utterances.
    public_passes: int = 1
    # Texts are cut to this many tokens while training (256: all-MiniLM-L6-v2's own limit). With
    # --public data, 32 keeps long public prompts from padding every batch to 256 (4x slower).
    max_tokens: int = 256


def classes(config: RoutesConfig, example_files: list[Path]) -> dict[str, list[str]]:
    """Each route's texts: its utterances, then the labelled single messages for its model."""
    examples = labelled_by_route(config, example_files)
    texts = {route.name: [*route.utterances, *examples[route.name]] for route in config.routes}
    return {name: list(dict.fromkeys(t.strip() for t in found if t.strip())) for name, found in texts.items()}


def labelled_by_route(config: RoutesConfig, example_files: list[Path]) -> dict[str, list[str]]:
    """The labelled single messages of the files, by the route of the model they are labelled with."""
    texts: dict[str, list[str]] = {route.name: [] for route in config.routes}
    route_of: dict[str, str] = {}
    for route in reversed(config.routes):
        route_of[route.model] = route.name
    for path in example_files:
        for item in read_labelled(path).items:
            # A follow-up turn out of its conversation is no example of its route.
            if len(item.user_turns) == 1 and item.expected in route_of:
                texts[route_of[item.expected]].append(item.user_turns[0].strip())
    return texts


def read_follow_ups(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def pairs(
    texts: dict[str, list[str]],
    base_routes: set[str],
    follow_ups: list[str],
    recipe: Recipe,
    public: dict[str, list[str]] | None = None,
) -> list[tuple[str, str, float]]:
    """(text, text, target cosine similarity): within a route 1 (the base model's routes:
    recipe.base_similarity), across routes 0, a follow-up and any route's example 0. Each text
    is paired in every pass (the public ones in recipe.public_passes) with texts drawn from its
    route's own and public ones together."""
    rng = random.Random(recipe.seed)
    names = sorted(texts)
    public = {name: (public or {}).get(name, []) for name in names}
    pool = {name: texts[name] + public[name] for name in names}
    found = []

    def pass_over(chosen: dict[str, list[str]]) -> None:
        for name in names:
            together = recipe.base_similarity if name in base_routes else 1.0
            others = [n for n in names if n != name]
            for text in chosen[name]:
                found.append((text, rng.choice(pool[name]), together))
                if others:
                    found.append((text, rng.choice(pool[rng.choice(others)]), 0.0))

    for _ in range(recipe.passes):
        pass_over(texts)
        for text in follow_ups:
            found.append((text, rng.choice(pool[rng.choice(names)]), 0.0))
    for _ in range(recipe.public_passes if any(public.values()) else 0):
        pass_over(public)
    rng.shuffle(found)
    return found


def batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fine_tune(training: list[tuple[str, str, float]], recipe: Recipe, start: Path, out: Path) -> None:
    """Train the sentence-transformer on the pairs (cosine-similarity loss) and save it to `out`."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(recipe.seed)
    torch.use_deterministic_algorithms(True)
    model = SentenceTransformer(str(start), device="cpu")
    model.max_seq_length = recipe.max_tokens
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    steps = max(1, -(-len(training) // recipe.batch_size))
    # Linear warm-up over the first tenth, then linear decay to zero.
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (steps - step) / steps)
    )

    def embed(texts: list[str]) -> torch.Tensor:
        return model(model.tokenize(texts))["sentence_embedding"]

    for step, batch in enumerate(batches(training, recipe.batch_size)):
        similarity = torch.nn.functional.cosine_similarity(
            embed([a for a, _, _ in batch]), embed([b for _, b, _ in batch])
        )
        loss = torch.nn.functional.mse_loss(similarity, torch.tensor([t for _, _, t in batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"    step {step + 1}/{steps}, loss {loss.item():.4f}", flush=True)
    model.eval()
    model.save(str(out))


def export(model_dir: Path, out: Path, quantize: bool = True, tokenizer_from: Path | None = None) -> str:
    """The transformer as ONNX (inputs those its tokenizer makes: input_ids, attention_mask and,
    for BERT, token_type_ids; output its last hidden state, which the router mean-pools), weights
    quantized to int8 unless `quantize` is false, with the tokenizer files of `tokenizer_from`
    (the base's folder; default `model_dir`); returns the model file's sha256."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    from dynamic_model_router.training.portable import make_portable

    model = SentenceTransformer(str(model_dir), device="cpu")
    transformer = model[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        # MPNet takes no token_type_ids: the ONNX model then has no such input, and fastembed
        # feeds only the inputs a model has.
        def forward(self, input_ids, attention_mask, token_type_ids=None):  # type: ignore[no-untyped-def]
            given = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, **given
            ).last_hidden_state

    names = [
        n for n in ("input_ids", "attention_mask", "token_type_ids") if n in model.tokenizer.model_input_names
    ]
    sample = model.tokenizer(["a sentence to trace the model with", "two"], padding=True, return_tensors="pt")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in names),
            str(fp32),
            dynamo=True,
            opset_version=18,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
            external_data=False,
        )
        if quantize:
            quantize_dynamic(
                str(fp32), str(out / "model.onnx"), per_channel=True, weight_type=QuantType.QInt8
            )
        else:
            shutil.copy(fp32, out / "model.onnx")
    make_portable(out / "model.onnx")
    for name in TOKENIZER_FILES:
        shutil.copy((tokenizer_from or model_dir) / name, out / name)
    shutil.copy(model_dir / "config.json", out / "config.json")
    return sha256_of(out / "model.onnx")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(
    routes: Path,
    example_files: list[Path],
    follow_ups: Path,
    out: Path,
    recipe: Recipe,
    quantize: bool = True,
    base: bases.Base = bases.MINILM_L6,
    public_files: list[Path] | None = None,
) -> dict:
    """Train, export and describe the encoder in `out`; returns what training.json records."""
    started = time.monotonic()
    config = load_routes(routes)
    texts = classes(config, example_files)
    own = {text for found in texts.values() for text in found}
    public = {
        name: [t for t in dict.fromkeys(found) if t and t not in own]
        for name, found in labelled_by_route(config, public_files or []).items()
    }
    turns = read_follow_ups(follow_ups)
    base_routes = {r.name for r in config.routes if r.model == config.default_model}
    training = pairs(texts, base_routes, turns, recipe, public)
    counts = ", ".join(f"{name} {len(texts[name])} (public {len(public[name])})" for name in texts)
    print(f"==> {len(training)} pairs from {counts}, follow-ups {len(turns)}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = bases.folder(base, Path(tmp))
        fine_tune(training, recipe, start, Path(tmp) / "trained")
        print("==> exporting to ONNX" + (" and quantizing to int8" if quantize else ""), flush=True)
        digest = export(Path(tmp) / "trained", out, quantize, tokenizer_from=start)
    record = {
        "base_model": base.name,
        "dimension": base.dimension,
        "routes": {"file": str(routes), "sha256": sha256_of(routes)},
        "examples": [{"file": str(p), "sha256": sha256_of(p)} for p in example_files],
        "public": [{"file": str(p), "sha256": sha256_of(p)} for p in public_files or []],
        "follow_ups": {"file": str(follow_ups), "sha256": sha256_of(follow_ups), "count": len(turns)},
        "routes_texts": {name: len(found) for name, found in texts.items()},
        "public_texts": {name: len(found) for name, found in public.items()},
        "pairs": len(training),
        "recipe": recipe.__dict__,
        "int8": quantize,
        "seconds": round(time.monotonic() - started),
        "model_sha256": digest,
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamic_model_router.training.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--routes", type=Path, default=DEFAULT_ROUTES_FILE, help="the routes file to fit")
    parser.add_argument("--examples", type=Path, nargs="*", default=[], help="labelled JSONL files")
    parser.add_argument(
        "--public",
        type=Path,
        nargs="*",
        default=[],
        help="labelled JSONL files of public data, paired in recipe.public_passes passes",
    )
    parser.add_argument(
        "--follow-ups", type=Path, default=DEFAULT_FOLLOW_UPS, help="follow-up turns, one a line"
    )
    parser.add_argument("--out", type=Path, required=True, help="the encoder folder to write")
    for field, value in Recipe().__dict__.items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument(
        "--base", choices=sorted(bases.BASES), default=bases.MINILM_L6.short, help="the encoder to start from"
    )
    parser.add_argument("--fp32", action="store_true", help="keep full-precision weights (for measuring)")
    args = parser.parse_args(argv)
    recipe = Recipe(**{field: getattr(args, field) for field in Recipe().__dict__})
    base = bases.BASES[args.base]
    record = train(
        args.routes, args.examples, args.follow_ups, args.out, recipe, not args.fp32, base, args.public
    )
    print(
        f"wrote {args.out} in {record['seconds']} s; in the routes file:\n"
        f"encoder:\n  model: {base.name}\n  path: {args.out.resolve()}\n"
        f"  sha256: {record['model_sha256']}\n  dimension: {base.dimension}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
