"""Make, offline, a tiny Phi model with a tokenizer and real peft LoRA adapters.

Usage: python make_tiny_phi.py OUT_DIR ADAPTER [ADAPTER ...]
Writes OUT_DIR/base (model + tokenizer) and OUT_DIR/<adapter> for each adapter name.
Runs in the vLLM venv (torch, transformers, peft); takes about ten seconds on CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PhiConfig, PhiForCausalLM, PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
CORPUS = [
    "The patient has a fever and a cough. Take the medicine twice a day.",
    "Three apples plus four apples make seven apples. Think step by step.",
    "Hello, how are you today? Write a short poem about the sea.",
    "user: assistant: system: question answer because therefore so",
] * 50


def make_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def main(out: Path, adapters: list[str]) -> None:
    torch.manual_seed(0)
    tokenizer = make_tokenizer()
    config = PhiConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        partial_rotary_factor=0.5,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    base_dir = out / "base"
    model = PhiForCausalLM(config)
    model.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    for i, name in enumerate(adapters):
        torch.manual_seed(i + 1)
        peft_model = get_peft_model(
            PhiForCausalLM.from_pretrained(base_dir),
            LoraConfig(
                r=8,
                lora_alpha=16,
                target_modules=["q_proj", "k_proj", "v_proj", "dense"],
                init_lora_weights=False,
            ),
        )
        peft_model.save_pretrained(out / name)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2:])
