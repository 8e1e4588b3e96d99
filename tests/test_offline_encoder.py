"""The encoder loads from local files only, and refuses files it cannot trust."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from offline_encoder import BUNDLED_MODEL_SHA256, MODEL_FILE, bundled_model_dir, load_encoder
from route_config import EncoderConfig, RoutesError


def copy_of_bundled_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), folder)
    return folder


def test_bundled_encoder_embeds_text_offline():
    encoder = load_encoder(EncoderConfig())
    [vector] = encoder(["I have a headache"])
    assert len(vector) == 384
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-3, "embeddings should be unit length"


def test_a_configured_folder_with_the_right_sha256_loads(tmp_path: Path):
    folder = copy_of_bundled_model(tmp_path)
    encoder = load_encoder(EncoderConfig(path=str(folder), sha256=BUNDLED_MODEL_SHA256))
    assert len(encoder(["hello"])[0]) == 384


def test_a_model_file_with_another_sha256_is_refused(tmp_path: Path):
    folder = copy_of_bundled_model(tmp_path)
    with pytest.raises(RoutesError, match=f"{MODEL_FILE} has sha256 .*, expected {'0' * 64}"):
        load_encoder(EncoderConfig(path=str(folder), sha256="0" * 64))


def test_a_folder_missing_tokenizer_files_names_them(tmp_path: Path):
    folder = copy_of_bundled_model(tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(RoutesError, match="missing tokenizer.json"):
        load_encoder(EncoderConfig(path=str(folder)))
