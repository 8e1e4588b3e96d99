"""Cached utterance embeddings: a start or a reload embeds only utterances it has not seen with
this very encoder, and a bad cache never fails a start."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.encoding.embedding_cache import CACHE_DIR_ENV, CACHE_SEED_ENV, EmbeddingCache
from dynamic_model_router.encoding.encoder import SHIPPED_ENCODER, OfflineFastEmbedEncoder
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, EncoderConfig, load_routes
from dynamic_model_router.runtime.live_routes import LiveRoutes


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the real encoder embeds from now on."""
    texts: list[str] = []
    original = OfflineFastEmbedEncoder.__call__

    def counting(self: OfflineFastEmbedEncoder, docs: list[str]) -> list[list[float]]:
        texts.extend(docs)
        return original(self, docs)

    monkeypatch.setattr(OfflineFastEmbedEncoder, "__call__", counting)
    return texts


def test_a_second_start_on_the_same_cache_embeds_no_utterance(tmp_path, monkeypatch, embedded):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    config = load_routes()
    utterances = sum(len(r.utterances) for r in config.routes)
    first = RouteDecider(config)
    assert len(embedded) == utterances, "the first start must embed every utterance once"
    embedded.clear()
    second = RouteDecider(config)
    assert embedded == [], f"the second start embedded {len(embedded)} utterances again"
    message = [{"role": "user", "content": "I sprained my ankle, should I ice it?"}]
    before, after = first.decide(message), second.decide(message)
    assert (after.model, after.route, after.score) == (before.model, before.route, before.score)


def test_a_reload_embeds_only_the_changed_utterance(tmp_path, monkeypatch, embedded):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    routes_file = tmp_path / "routes.yaml"
    shutil.copyfile(DEFAULT_ROUTES_FILE, routes_file)
    live = LiveRoutes(routes_file, check_interval_s=0)
    text = routes_file.read_text(encoding="utf-8")
    old = "      - Is psoriasis contagious?\n"
    assert old in text
    routes_file.write_text(
        text.replace(old, "      - Can eczema spread to other people?\n"), encoding="utf-8"
    )
    embedded.clear()
    assert live.reload()
    assert embedded == ["Can eczema spread to other people?"], embedded


def test_entries_belong_to_one_encoder(tmp_path: Path):
    EmbeddingCache("model-a", tmp_path).put(["hello"], [[1.0, 2.0]])
    assert EmbeddingCache("model-b", tmp_path).get(["hello"]) == [None], "another model's vector was served"
    [vector] = EmbeddingCache("model-a", tmp_path).get(["hello"])
    assert vector is not None and vector.tolist() == [1.0, 2.0]


def test_the_seed_is_read_and_new_entries_go_to_the_writable_folder_only(tmp_path, monkeypatch):
    seed, writable = tmp_path / "seed", tmp_path / "writable"
    EmbeddingCache("model", seed).put(["from the image"], [[1.0]])
    monkeypatch.setenv(CACHE_DIR_ENV, str(writable))
    monkeypatch.setenv(CACHE_SEED_ENV, str(seed))
    cache = EmbeddingCache.from_environment("model")
    cache.put(["an edit"], [[2.0]])
    assert [v is not None for v in cache.get(["from the image", "an edit"])] == [True, True]
    assert EmbeddingCache("model", seed).get(["an edit"]) == [None], "the seed was written to"
    assert len(list(writable.iterdir())) == 1


def test_a_damaged_or_unwritable_cache_costs_embeddings_not_the_start(tmp_path, caplog):
    cache = EmbeddingCache("model", tmp_path)
    cache.put(["text"], [[1.0]])
    assert cache.file is not None
    cache.file.write_bytes(b"not an npz file")
    with caplog.at_level("WARNING", logger="dynamic_model_router"):
        assert EmbeddingCache("model", tmp_path).get(["text"]) == [None]
    assert "ignoring the embedding cache" in caplog.text
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    unwritable = EmbeddingCache("model", blocked / "cache")
    with caplog.at_level("WARNING", logger="dynamic_model_router"):
        unwritable.put(["text"], [[1.0]])
    assert "cannot write the embedding cache" in caplog.text
    assert unwritable.get(["text"])[0] is not None, "the vector must still be kept in memory"


def test_an_encoder_folder_carrying_its_routes_embeddings_is_swapped_in_without_embedding_them(
    tmp_path, monkeypatch, embedded
):
    """As `make train` leaves a folder (its fit step writes the cache there): another proxy, with
    a cache of its own, loads that encoder embedding no utterance."""
    folder = tmp_path / "trained"
    shutil.copytree(SHIPPED_ENCODER, folder)
    config = load_routes().model_copy(update={"encoder": EncoderConfig(path=str(folder))})
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    monkeypatch.delenv(CACHE_SEED_ENV, raising=False)
    RouteDecider(config)
    assert list(folder.glob("embeddings-*.npz")), "the cache was not written into the encoder's folder"
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "another-proxy"))
    embedded.clear()
    RouteDecider(config)
    assert embedded == [], f"{len(embedded)} utterances were embedded again despite the folder's own"
