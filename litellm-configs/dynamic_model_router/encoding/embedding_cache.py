"""Utterance embeddings kept on disk, so a start or a routes reload embeds only new utterances.

An entry is keyed by the encoder's identity (the sha256 of its model file and its name) and the
utterance's text, so a changed model never serves stale vectors. Entries are read from the
writable cache folder (SEMANTIC_ROUTER_CACHE_DIR) and from read-only seed folders
(SEMANTIC_ROUTER_CACHE_SEED: the container image holds the default routes' embeddings there; and
the encoder's own folder);
new ones are written to the writable folder only. Without SEMANTIC_ROUTER_CACHE_DIR the cache
lives in memory, which still spares a reload from embedding what did not change.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dynamic_model_router.log import log

CACHE_DIR_ENV = "SEMANTIC_ROUTER_CACHE_DIR"
CACHE_SEED_ENV = "SEMANTIC_ROUTER_CACHE_SEED"


class EmbeddingCache:
    def __init__(self, encoder_id: str, directory: Path | None = None, seeds: Sequence[Path] = ()):
        self.encoder_id = encoder_id
        name = f"embeddings-{encoder_id[:32]}.npz"
        self.file = directory / name if directory is not None else None
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        for path in (*(seed / name for seed in seeds), *([self.file] if self.file else [])):
            self._load(path)

    @classmethod
    def from_environment(cls, encoder_id: str, encoder_dir: Path | None = None) -> EmbeddingCache:
        """The cache the environment names; the encoder's own folder is a seed too (`make train`
        leaves its routes' embeddings there, so a swap to it embeds only what changed since)."""
        directory = os.environ.get(CACHE_DIR_ENV)
        seeds = [Path(seed)] if (seed := os.environ.get(CACHE_SEED_ENV)) else []
        return cls(
            encoder_id,
            Path(directory) if directory else None,
            [*seeds, *([encoder_dir] if encoder_dir else [])],
        )

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.encoder_id}\0{text}".encode()).hexdigest()

    def get(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        return [self._vectors.get(self.key(t)) for t in texts]

    def put(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._vectors[self.key(text)] = np.asarray(vector, dtype=np.float32)
            self._save()

    def _load(self, path: Path) -> None:
        if not path.is_file():
            return
        try:
            with np.load(path, allow_pickle=False) as data:
                self._vectors.update(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except Exception as e:  # a damaged cache costs a re-embedding, never a failed start
            log.warning("ignoring the embedding cache %s: %s", path, e)

    def _save(self) -> None:
        if self.file is None:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self._vectors)
            # Written beside the file and renamed over it: a reader never sees half a file.
            with tempfile.NamedTemporaryFile(dir=self.file.parent, suffix=".npz", delete=False) as out:
                np.savez(out, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]))
            os.replace(out.name, self.file)
        except OSError as e:  # a read-only or full disk costs the next start time, nothing else
            log.warning("cannot write the embedding cache %s: %s", self.file, e)
