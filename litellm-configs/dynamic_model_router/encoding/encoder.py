"""The embedding encoder, loaded from local files only: nothing is ever downloaded.

The default is the encoder this project trains on its default routes (all-MiniLM-L6-v2 fitted
by dynamic_model_router.training.train, int8 ONNX), in the shipped configuration's `encoder`
folder (shipped.py), which the image carries. A folder holding ``model.onnx`` and the tokenizer
files can be configured instead (an encoder trained on your routes, say), including a
sentence-transformer fastembed does not list, given its dimension and pooling.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType
from semantic_router.encoders import FastEmbedEncoder
from semantic_router.encoders.base import AsymmetricDenseMixin
from tokenizers import Tokenizer

from dynamic_model_router import shipped
from dynamic_model_router.encoding.embedding_cache import EmbeddingCache
from dynamic_model_router.routes_file import EncoderConfig, RoutesError

# The shipped encoder, and the sha256 its model file must have (dynamic_model_router.training.train prints it;
# the folder's training.json records how it was made).
SHIPPED_ENCODER = shipped.ENCODER_DIR
SHIPPED_MODEL_SHA256 = "1ff3233a5dac46087160005b372e54ef202090ac9e42ed8b650980ceb727b0d8"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")
MODEL_FILE = "model.onnx"
# Where the encoders volume is mounted (the chart's encoders.mountPath).
ENCODERS_DIR_ENV = "SEMANTIC_ROUTER_ENCODERS_DIR"
_EMBEDDING_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedding")
_RECENT_QUERIES = 256
_RECENT_LOCK = threading.Lock()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EncoderError(RoutesError):
    """An encoder that cannot be used, with the problem's name for the metric."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


def model_dir(config: EncoderConfig) -> tuple[Path, str | None]:
    """The folder to load and the sha256 its model file must have (None: not pinned). A relative
    path is a folder in the encoders volume (ENCODERS_DIR_ENV), when one is mounted."""
    if config.path is None:
        return SHIPPED_ENCODER, SHIPPED_MODEL_SHA256
    return Path(os.environ.get(ENCODERS_DIR_ENV, "")) / config.path, config.sha256


def fastembed_name(config: EncoderConfig) -> str:
    """The name fastembed loads the model under: its own, or one registered for a custom model."""
    known = {m["model"] for m in TextEmbedding.list_supported_models()}
    if config.model in known:
        return config.model
    if config.path is None or config.dimension is None:
        raise EncoderError(
            f"encoder.model {config.model!r} is not a model fastembed knows; for your own ONNX "
            "sentence-transformer set encoder.path and encoder.dimension (and encoder.pooling if it "
            "is not mean)",
            "unknown-model",
        )
    # Pooling and size are part of the name, so an edit of either registers a new model
    # instead of reusing the first registration for the life of the process.
    name = f"{config.model} ({config.pooling} pooling, {config.dimension} dimensions)"
    if name not in known:
        TextEmbedding.add_custom_model(
            model=name,
            pooling=PoolingType[config.pooling.upper()],
            normalization=True,
            sources=ModelSource(hf=config.model),
            dim=config.dimension,
            model_file=MODEL_FILE,
        )
    return name


class OfflineFastEmbedEncoder(FastEmbedEncoder, AsymmetricDenseMixin):
    """semantic-router's FastEmbedEncoder, loading from a local folder, with cached utterances.

    The upstream class never passes fastembed's ``specific_model_path`` through, so it would
    try to download. semantic-router embeds a route's utterances with encode_documents and a
    message with encode_queries: utterances come from the cache when it has them.
    """

    model_path: str
    model_sha256: str = ""
    cache: Any = None
    # The last messages' vectors: the utterance vote and the class head read the same message's
    # vector, and it is embedded once.
    recent: Any = None
    # Where its messages are embedded: None, the proxy's one embedding thread; a shadow's encoder
    # has its own (runtime/shadow.py), so trying a candidate never queues before a live request.
    executor: Any = None
    # A message longer than max_tokens is embedded as its first and last halves (tokens of this
    # tokenizer, the model's own): None embeds it as the model's limit allows.
    tokenizer: Any = None
    max_tokens: int = 0

    def _initialize_client(self) -> Any:
        return TextEmbedding(self.name, specific_model_path=self.model_path, threads=self.threads)

    def _remembered(self, docs: list[str]) -> list[list[float]] | None:
        if self.recent is None or len(docs) != 1:
            return None
        with _RECENT_LOCK:
            vector = self.recent.get(docs[0])
            if vector is not None:
                self.recent.move_to_end(docs[0])
        return None if vector is None else [vector]

    def _remember(self, docs: list[str], vectors: list[list[float]]) -> list[list[float]]:
        if len(docs) == 1:
            with _RECENT_LOCK:
                if self.recent is None:
                    self.recent = OrderedDict()
                self.recent[docs[0]] = vectors[0]
                if len(self.recent) > _RECENT_QUERIES:
                    self.recent.popitem(last=False)
        return vectors

    def bounded(self, text: str) -> str:
        """The text, or its first and last max_tokens / 2 tokens' words when it has more."""
        # A token covers at least one character: a text this short cannot have more.
        if self.tokenizer is None or len(text) <= self.max_tokens:
            return text
        offsets = self.tokenizer.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= self.max_tokens:
            return text
        head = self.max_tokens // 2
        tail = offsets[len(offsets) - (self.max_tokens - head)][0]
        return text[: offsets[head - 1][1]] + " " + text[tail:]

    def _embed_queries(self, docs: list[str]) -> list[list[float]]:
        return self([self.bounded(d) for d in docs])

    def encode_queries(self, docs: list[str]) -> list[list[float]]:
        return self._remembered(docs) or self._remember(docs, self._embed_queries(docs))

    async def aencode_queries(self, docs: list[str]) -> list[list[float]]:
        if remembered := self._remembered(docs):
            return remembered
        # One embedding at a time, on one worker thread: concurrent ONNX runs would take every
        # core from the proxy's event loop (measured: 0.78 of the proxy's throughput at
        # concurrency 16 with the loop's default executor).
        executor = self.executor or _EMBEDDING_THREAD
        vectors = await asyncio.get_running_loop().run_in_executor(executor, self._embed_queries, docs)
        return self._remember(docs, vectors)

    def encode_documents(self, docs: list[str]) -> list[list[float]]:
        if self.cache is None:
            return self(docs)
        found = self.cache.get(docs)
        missing = list(dict.fromkeys(d for d, v in zip(docs, found, strict=True) if v is None))
        if missing:
            self.cache.put(missing, self(missing))
            found = self.cache.get(docs)
        return [v.tolist() for v in found]

    async def aencode_documents(self, docs: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.encode_documents, docs)


def _plain_tokenizer(path: Path) -> Tokenizer:
    """The model's tokenizer without its padding and truncation: it counts a message's tokens."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def load_encoder(config: EncoderConfig) -> OfflineFastEmbedEncoder:
    """Load the configured encoder after checking its files; raises RoutesError if unusable."""
    folder, expected_sha256 = model_dir(config)
    missing = [n for n in (MODEL_FILE, *TOKENIZER_FILES) if not (folder / n).is_file()]
    if missing:
        where = f"encoder.path {folder}" if config.path else f"the shipped encoder ({folder})"
        raise EncoderError(
            f"{where}: missing {', '.join(missing)}; put the ONNX model and its tokenizer "
            "files there, or remove encoder.path to use the shipped encoder",
            "missing",
        )
    # The model file's hash also names the cached embeddings, so a changed model never reuses them.
    actual = _sha256(folder / MODEL_FILE)
    if expected_sha256 is not None and actual != expected_sha256:
        raise EncoderError(
            f"encoder: {folder / MODEL_FILE} has sha256 {actual}, expected {expected_sha256}; "
            "the file is damaged or not the pinned model: replace it, or set encoder.sha256",
            "sha256",
        )
    name = fastembed_name(config)
    try:
        encoder = OfflineFastEmbedEncoder(name=name, model_path=str(folder), threads=config.threads)
        size = len(encoder(["dimension check"])[0]) if config.dimension is not None else None
    except Exception as e:  # fastembed raises bare ValueErrors/RuntimeErrors for bad folders
        raise EncoderError(
            f"encoder: cannot load {config.model} from {folder}: {e}; replace the damaged files "
            "(set encoder.sha256 to catch this before loading)",
            "unreadable",
        ) from e
    if size != config.dimension:
        raise EncoderError(
            f"encoder.dimension is {config.dimension}, but {folder / MODEL_FILE} gives vectors of "
            f"{size}; set encoder.dimension to {size}",
            "dimension",
        )
    encoder.model_sha256 = actual
    encoder.tokenizer = _plain_tokenizer(folder / TOKENIZER_FILES[0])
    encoder.max_tokens = config.max_tokens
    encoder.cache = EmbeddingCache.from_environment(
        hashlib.sha256(f"{actual}\0{name}".encode()).hexdigest(), folder
    )
    return encoder
