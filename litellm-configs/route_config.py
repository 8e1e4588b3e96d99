"""The routes file: parsed and validated once into typed objects.

A routes file names the virtual model clients ask for (``auto``), the base model that
answers when no route is confident (``phi2``), the encoder, and the routes. Every error
names the file, the field and what is wrong, so an operator editing a ConfigMap can fix it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

DEFAULT_ROUTES_FILE = Path(__file__).with_name("routes.yaml")
AGGREGATIONS = ("mean", "max", "sum")


class RoutesError(ValueError):
    """The routes file is missing, unreadable or invalid; the message says where and why."""


@dataclass(frozen=True)
class EncoderConfig:
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    # A folder holding model.onnx and the tokenizer files; None means the bundled model.
    path: str | None = None
    # Expected sha256 of <path>/model.onnx; the bundled model is always verified.
    sha256: str | None = None
    # ONNX Runtime threads per embedding: one leaves the other cores to the proxy itself.
    threads: int = 1


@dataclass(frozen=True)
class RouteConfig:
    name: str
    model: str
    utterances: tuple[str, ...]
    threshold: float | None = None
    description: str | None = None


@dataclass(frozen=True)
class RoutesConfig:
    virtual_model: str
    default_model: str
    routes: tuple[RouteConfig, ...]
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    # The score a route needs unless it sets its own threshold. Scores are cosine
    # similarities combined over the top_k nearest utterances: 0..1 for mean and max,
    # 0..top_k for sum.
    threshold: float = 0.3
    top_k: int = 5
    aggregation: str = "sum"
    # Only this many characters of a message are embedded: bounds the cost of huge prompts.
    max_chars: int = 2000
    # How many earlier user turns a follow-up may lean on (0 disables stickiness).
    history_turns: int = 2
    # Weight of the previous user turn's scores (squared for the one before, ...).
    history_weight: float = 0.6

    @property
    def models(self) -> set[str]:
        """Every model this file can send a request to."""
        return {self.default_model, *(r.model for r in self.routes)}


_TOP_KEYS = {
    "virtual_model",
    "default_model",
    "encoder",
    "threshold",
    "top_k",
    "aggregation",
    "max_chars",
    "history_turns",
    "history_weight",
    "routes",
}
_ENCODER_KEYS = {"model", "path", "sha256", "threads"}
_ROUTE_KEYS = {"name", "model", "utterances", "threshold", "description"}


class _Reader:
    """Reads typed fields from a mapping and reports errors as '<file>: <field>: <problem>'."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str) -> RoutesError:
        return RoutesError(f"{self.source}: {where}: {problem}")

    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, got {_kind(value)}")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise self.fail(
                where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        return value

    def name(self, data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", f"must be a non-empty string, got {_kind(value)}")
        return value.strip()

    def optional_text(self, data: dict[str, Any], key: str, where: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{where}{key}", f"must be a string, got {_kind(value)}")
        return value

    def number(self, data: dict[str, Any], key: str, where: str, default: float | None) -> float | None:
        value = data.get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"{where}{key}", f"must be a number >= 0, got {_kind(value)}")
        if value < 0:
            raise self.fail(f"{where}{key}", f"must be >= 0, got {value}")
        return float(value)

    def required_number(self, data: dict[str, Any], key: str, default: float) -> float:
        value = self.number(data, key, "", default)
        assert value is not None  # number() only returns None when there is no default
        return value

    def integer(self, data: dict[str, Any], key: str, default: int, minimum: int, where: str = "") -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"{where}{key}", f"must be an integer >= {minimum}, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str | int | float | bool):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


def parse_routes(data: Any, source: str = "<routes>") -> RoutesConfig:
    """Validate already-loaded YAML data; raises RoutesError naming the offending field."""
    r = _Reader(source)
    # Defaults are stated once, on the dataclasses.
    defaults: dict[str, Any] = {f.name: f.default for f in fields(RoutesConfig)}
    encoder_defaults: dict[str, Any] = {f.name: f.default for f in fields(EncoderConfig)}
    top = r.mapping(data, "top level", _TOP_KEYS)
    encoder_data = r.mapping(top.get("encoder") or {}, "encoder", _ENCODER_KEYS)
    sha256 = r.optional_text(encoder_data, "sha256", "encoder.")
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        raise r.fail("encoder.sha256", "must be 64 lowercase hex digits")
    encoder = EncoderConfig(
        model=r.name(encoder_data, "model", "encoder.", encoder_defaults["model"]),
        path=r.optional_text(encoder_data, "path", "encoder."),
        sha256=sha256,
        threads=r.integer(encoder_data, "threads", encoder_defaults["threads"], 1, "encoder."),
    )
    aggregation = top.get("aggregation", defaults["aggregation"])
    if aggregation not in AGGREGATIONS:
        raise r.fail("aggregation", f"must be one of {', '.join(AGGREGATIONS)}, got {_kind(aggregation)}")

    raw_routes = top.get("routes")
    if not isinstance(raw_routes, list) or not raw_routes:
        raise r.fail("routes", f"must be a non-empty list of routes, got {_kind(raw_routes)}")
    routes = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_routes):
        where = f"routes[{i}]"
        item = r.mapping(raw, where, _ROUTE_KEYS)
        name = r.name(item, "name", f"{where}.")
        where = f"routes[{i}] ({name})"
        if name in seen:
            raise r.fail(where, f"duplicate route name {name!r}")
        seen.add(name)
        utterances = item.get("utterances")
        if not isinstance(utterances, list) or not utterances:
            raise r.fail(
                f"{where}.utterances", f"must be a non-empty list of strings, got {_kind(utterances)}"
            )
        for j, u in enumerate(utterances):
            if not isinstance(u, str) or not u.strip():
                raise r.fail(f"{where}.utterances[{j}]", f"must be a non-empty string, got {_kind(u)}")
        routes.append(
            RouteConfig(
                name=name,
                model=r.name(item, "model", f"{where}."),
                utterances=tuple(u.strip() for u in utterances),
                threshold=r.number(item, "threshold", f"{where}.", None),
                description=r.optional_text(item, "description", f"{where}."),
            )
        )

    config = RoutesConfig(
        virtual_model=r.name(top, "virtual_model", ""),
        default_model=r.name(top, "default_model", ""),
        routes=tuple(routes),
        encoder=encoder,
        threshold=r.required_number(top, "threshold", defaults["threshold"]),
        top_k=r.integer(top, "top_k", defaults["top_k"], 1),
        aggregation=aggregation,
        max_chars=r.integer(top, "max_chars", defaults["max_chars"], 16),
        history_turns=r.integer(top, "history_turns", defaults["history_turns"], 0),
        history_weight=r.required_number(top, "history_weight", defaults["history_weight"]),
    )
    if config.virtual_model in config.models:
        raise r.fail("virtual_model", f"{config.virtual_model!r} is also a route target; it must be virtual")
    return config


def load_routes(path: str | Path = DEFAULT_ROUTES_FILE) -> RoutesConfig:
    """Read and validate a routes file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RoutesError(f"{path}: cannot read the routes file: {e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RoutesError(f"{path}: not valid YAML: {e}") from e
    return parse_routes(data, str(path))
