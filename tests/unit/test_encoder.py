"""The encoder loads from local files only, and refuses files it cannot trust."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dynamic_model_router.encoding.encoder import (
    MODEL_FILE,
    SHIPPED_ENCODER,
    SHIPPED_MODEL_SHA256,
    TOKENIZER_FILES,
    load_encoder,
)
from dynamic_model_router.routes_file import EncoderConfig, RoutesError


def copy_of_shipped_encoder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(SHIPPED_ENCODER, folder)
    return folder


def test_the_shipped_encoder_embeds_text_offline():
    encoder = load_encoder(EncoderConfig())
    [vector] = encoder(["I have a headache"])
    assert len(vector) == 384
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-3, "embeddings should be unit length"


def test_a_configured_folder_with_the_right_sha256_loads(tmp_path: Path):
    folder = copy_of_shipped_encoder(tmp_path)
    encoder = load_encoder(EncoderConfig(path=str(folder), sha256=SHIPPED_MODEL_SHA256))
    assert len(encoder(["hello"])[0]) == 384


def test_a_model_file_with_another_sha256_is_refused(tmp_path: Path):
    folder = copy_of_shipped_encoder(tmp_path)
    with pytest.raises(RoutesError, match=f"{MODEL_FILE} has sha256 .*, expected {'0' * 64}"):
        load_encoder(EncoderConfig(path=str(folder), sha256="0" * 64))


def test_a_folder_missing_tokenizer_files_names_them(tmp_path: Path):
    folder = copy_of_shipped_encoder(tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(RoutesError, match="missing tokenizer.json"):
        load_encoder(EncoderConfig(path=str(folder)))


def test_a_model_fastembed_does_not_list_loads_from_its_folder_with_dimension_and_pooling(tmp_path: Path):
    folder = copy_of_shipped_encoder(tmp_path)
    text = ["My knee is swollen after a fall"]
    [bundled] = load_encoder(EncoderConfig())(text)
    [own] = load_encoder(EncoderConfig(model="acme/minilm-copy", path=str(folder), dimension=384))(text)
    assert np.allclose(own, bundled, atol=1e-5), (
        "mean pooling of the same ONNX model should give the same vector"
    )
    cls = load_encoder(
        EncoderConfig(model="acme/minilm-copy", path=str(folder), dimension=384, pooling="cls")
    )
    [first_token] = cls(text)
    assert not np.allclose(first_token, bundled, atol=1e-3), "pooling: cls was not applied"
    assert abs(float(np.dot(first_token, first_token)) - 1.0) < 1e-3, (
        "custom models' vectors should be unit length"
    )


def test_a_model_fastembed_does_not_list_needs_a_folder_and_a_dimension():
    with pytest.raises(
        RoutesError, match="'acme/unknown' is not a model fastembed knows; .* encoder.dimension"
    ):
        load_encoder(EncoderConfig(model="acme/unknown"))


def test_a_wrong_dimension_is_refused_with_the_right_one(tmp_path: Path):
    folder = copy_of_shipped_encoder(tmp_path)
    with pytest.raises(
        RoutesError,
        match="encoder.dimension is 768, but .* gives vectors of 384; set encoder.dimension to 384",
    ):
        load_encoder(EncoderConfig(model="acme/minilm-copy", path=str(folder), dimension=768))


def test_the_shipped_encoder_is_the_file_the_router_pins_and_its_training_record_names():
    digest = hashlib.sha256((SHIPPED_ENCODER / MODEL_FILE).read_bytes()).hexdigest()
    assert digest == SHIPPED_MODEL_SHA256, "the shipped model.onnx is not the one offline_encoder pins"
    record = json.loads((SHIPPED_ENCODER / "training.json").read_text(encoding="utf-8"))
    assert record["model_sha256"] == digest, "training.json describes another model file"
    assert {name for name in TOKENIZER_FILES if (SHIPPED_ENCODER / name).is_file()} == set(TOKENIZER_FILES)


PASTED = "The committee reviewed the annual budget and postponed the new building until spring. " * 40


def test_a_long_message_is_embedded_as_its_first_and_last_tokens():
    encoder = load_encoder(EncoderConfig(max_tokens=16))
    text = "Summarise these notes for me: " + PASTED + "And list who must act next."
    bounded = encoder.bounded(text)
    count = len(encoder.tokenizer.encode(bounded, add_special_tokens=False).ids)
    assert count == 16, f"{bounded!r} has {count} tokens, not max_tokens"
    assert bounded.startswith("Summarise these notes for me:"), bounded
    assert bounded.endswith("who must act next."), bounded
    assert np.allclose(encoder.encode_queries([text])[0], encoder([bounded])[0]), (
        "a long message's vector is not the vector of its first and last tokens"
    )


def test_a_message_within_max_tokens_is_embedded_whole():
    encoder = load_encoder(EncoderConfig(max_tokens=16))
    text = "my toddler swallowed a button battery"
    assert encoder.bounded(text) == text
    longer = text + ", she is two years old and seems fine for now, what do i do next?"
    assert encoder.bounded(longer) != longer, "the control: a longer message must be cut"
    assert load_encoder(EncoderConfig()).max_tokens == 128, "the default bound is not 128 tokens"
