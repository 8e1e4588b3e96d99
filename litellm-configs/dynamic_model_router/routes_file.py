"""The routes file: parsed and validated once into typed objects.

A routes file names the virtual model clients ask for (``auto``), the base model that
answers when no route is confident (``phi2``), the encoder, and the routes. The models below
are the file's schema: `python -m dynamic_model_router.routes_file` prints it as JSON Schema
(routes.schema.json, which editors use through the file's `$schema` comment). Every error names the file, the
field and what is wrong, so an operator editing a ConfigMap can fix it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from dynamic_model_router import prompts, shipped

DEFAULT_ROUTES_FILE = shipped.ROUTES_FILE
SCHEMA_FILE = shipped.SCHEMA_FILE

# Strict: "0.5" is no number and true no count; YAML gives real types, so a quoted one is a mistake.
Name = Annotated[str, Field(strict=True), StringConstraints(strip_whitespace=True, min_length=1)]
Text = Annotated[str, Field(strict=True)]
Score = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]


class RoutesError(ValueError):
    """The routes file is missing, unreadable or invalid; the message says where and why."""


class _Strict(BaseModel):
    # An unknown key is a typo: refused, never ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class EncoderConfig(_Strict):
    model: Name = Field("sentence-transformers/all-MiniLM-L6-v2", description="fastembed model name")
    path: Text | None = Field(
        None, description="A folder holding model.onnx and the tokenizer files; empty: the shipped encoder"
    )
    sha256: Annotated[Text, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="Expected sha256 of <path>/model.onnx; the shipped encoder is always verified"
    )
    threads: int = Field(1, strict=True, ge=1, description="ONNX Runtime threads per embedding")
    dimension: int | None = Field(
        None,
        strict=True,
        ge=1,
        description="Embedding size; needed (with path) for a model fastembed does not list, checked if set",
    )
    pooling: Literal["mean", "cls"] = Field(
        "mean", description="How a model fastembed does not list turns token vectors into one"
    )
    max_tokens: int = Field(
        128,
        strict=True,
        ge=2,
        description="How many of a message's tokens are embedded: its first and last halves. An "
        "embedding's time grows faster than its length, so a pasted page costs no more than this",
    )


class CanaryConfig(_Strict):
    model: Name = Field(
        description="The new version (an adapter) that takes a share of the route's conversations"
    )
    share: float = Field(
        strict=True, ge=0, le=1, description="The share of conversations it answers, 0 to 1 (1: all of them)"
    )


class RouteConfig(_Strict):
    name: Name
    model: Name = Field(description="The model (adapter) this route's requests go to")
    utterances: tuple[Name, ...] = Field(min_length=1, description="Example user messages for this route")
    threshold: Score | None = Field(None, description="The score this route needs; default: the top level's")
    miss_cost: float = Field(
        1.0,
        strict=True,
        ge=1,
        le=100,
        description="Recall before precision: how many times worse it is to send one of this route's "
        "messages elsewhere than to send another message here. Above 1, the route also wins a message "
        "the class head gives at least 1 / (1 + miss_cost) of its probability, when the route's score "
        "clears its threshold (1: only when it is the best)",
    )
    description: Text | None = None
    canary: CanaryConfig | None = Field(
        None,
        description="A new version beside `model`: each conversation is answered by one of the two, "
        "chosen from its first user message, so it keeps its version as it goes on",
    )

    @property
    def recall_first(self) -> bool:
        """Whether it wins close calls (miss_cost above 1)."""
        return self.miss_cost > 1

    @property
    def models(self) -> tuple[str, ...]:
        """Every model this route may send to."""
        return (self.model,) if self.canary is None else (self.model, self.canary.model)


Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Stops = Annotated[tuple[Text, ...], Field(max_length=prompts.MAX_STOPS)]


class GenerationDefaults(_Strict):
    """Generation settings a model is asked with when a request sets none (a request's own win)."""

    max_tokens: int | None = Field(None, strict=True, ge=1)
    temperature: Number | None = Field(None, ge=prompts.TEMPERATURE[0], le=prompts.TEMPERATURE[1])
    top_p: Number | None = Field(None, gt=prompts.TOP_P[0], le=prompts.TOP_P[1])
    stop: Text | Stops | None = Field(None, description=f"A string or up to {prompts.MAX_STOPS}")
    presence_penalty: Number | None = Field(None, ge=prompts.PENALTY[0], le=prompts.PENALTY[1])
    frequency_penalty: Number | None = Field(None, ge=prompts.PENALTY[0], le=prompts.PENALTY[1])
    seed: int | None = Field(None, strict=True)


class PromptConfig(_Strict):
    """How one model is asked (prompts.py; request/prompt_format.py applies it, reply/ shows its answers)."""

    chat_template: Text | None = Field(
        None,
        description="The model's own chat template (Jinja, as vLLM's --chat-template), sent with each "
        "chat request to it; empty: vLLM's own",
    )
    system_prompt: Text | None = Field(
        None, description="A system message put before the conversation's messages"
    )
    defaults: GenerationDefaults = GenerationDefaults()
    reply: Literal["plain", "dcot"] = Field(
        "plain",
        description="How its replies are shown: plain as they come; dcot folds the chains of thought "
        "([Answer 1] ... [Final answer]) so the final answer stands out",
    )

    @field_validator("chat_template")
    @classmethod
    def _renders(cls, template: str | None) -> str | None:
        if template is not None and (found := prompts.template_problem(template)):
            raise ValueError(found)
        return template


class CandidateConfig(_Strict):
    """A candidate router beside the live one: its own settings, the live file's for the rest."""

    name: Name = Field(description="Names the candidate in metrics, log lines and the review sample")
    shadow: bool = Field(
        True,
        strict=True,
        description="Decide every routed request with the candidate too, off the request's path "
        "(answers never change); false: kept, unused, for a rollback",
    )
    review: bool = Field(
        False,
        strict=True,
        description="Write each conversation the candidate decides differently to the review volume "
        "(SEMANTIC_ROUTER_REVIEW_DIR): these are people's questions",
    )
    encoder: EncoderConfig | None = None
    routes: tuple[RouteConfig, ...] | None = Field(None, min_length=1)
    threshold: Score | None = None
    top_k: int | None = Field(None, strict=True, ge=1)
    aggregation: Literal["mean", "max", "sum"] | None = None
    max_chars: int | None = Field(None, strict=True, ge=16)
    history_turns: int | None = Field(None, strict=True, ge=0)
    history_weight: Score | None = None
    class_head_weight: Score | None = None
    topic_change_phrases: tuple[Name, ...] | None = None

    def settings(self) -> dict[str, Any]:
        """The routing settings the candidate sets itself (an explicit null included)."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={"name", "shadow", "review"})


class RoutesConfig(_Strict):
    virtual_model: Name = Field(description="The model name clients ask for to be routed")
    default_model: Name = Field(description="The model that answers when no route is confident")
    routes: tuple[RouteConfig, ...] = Field(min_length=1)
    encoder: EncoderConfig = EncoderConfig()
    threshold: Score = Field(
        0.3,
        description="The score a route needs unless it sets its own: the top_k nearest utterances' "
        "cosine similarities combined by aggregation (0..1 for mean and max, 0..top_k for sum), plus "
        "up to class_head_weight from the class head for a message on its own",
    )
    top_k: int = Field(5, strict=True, ge=1)
    aggregation: Literal["mean", "max", "sum"] = "sum"
    max_chars: int = Field(
        2000,
        strict=True,
        ge=16,
        description="How many characters of a message are read: its first and last halves (then "
        "encoder.max_tokens of their tokens are embedded)",
    )
    history_turns: int = Field(
        2, strict=True, ge=0, description="Earlier user turns a follow-up may lean on (0: none)"
    )
    history_weight: Score = Field(
        0.6, description="Weight of the previous user turn's scores (squared for the one before, ...)"
    )
    class_head_weight: Score | None = Field(
        None,
        description="How much the encoder's class head (head.json beside its model) adds to a text's "
        "score for each route: its probability for the route times this. Empty: the weight it was "
        "fitted with; 0: off. Routes the head does not know get nothing from it",
    )
    prompts: dict[Name, PromptConfig] = Field(
        {},
        description="How each model is asked, by model name (the chart writes each adapter's `prompt` "
        "values here); a model not named is asked vLLM's way",
    )
    topic_change_phrases: tuple[Name, ...] = Field(
        (),
        description="Phrases that announce a new topic (matched case-insensitively as whole words): "
        "a user turn holding one is routed on its own, without earlier turns",
    )
    # Checked on its own (candidate()), so a broken candidate never refuses the live routes.
    candidate: dict[str, Any] | None = Field(
        None,
        description="A router to try beside this one (shadow decisions, docs/shadow.md): its encoder, "
        "routes and settings, the rest as above. A broken candidate is refused on its own: it never "
        "stops the live routes from loading",
    )

    @field_validator("routes")
    @classmethod
    def _unique_names(cls, routes: tuple[RouteConfig, ...]) -> tuple[RouteConfig, ...]:
        names = [r.name for r in routes]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate route name(s) {', '.join(map(repr, duplicates))}")
        return routes

    @model_validator(mode="after")
    def _virtual(self) -> RoutesConfig:
        if self.virtual_model in self.models:
            raise ValueError(
                f"virtual_model {self.virtual_model!r} is also a route target; it must be virtual"
            )
        return self

    @property
    def models(self) -> set[str]:
        """Every model this file can send a request to."""
        return {self.default_model, *(r.model for r in self.routes)}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str | int | float | bool):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


def _where(loc: tuple[int | str, ...], data: Any) -> str:
    """'routes[1] (dcot).utterances[0]' for the location pydantic reports."""
    text = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str) and node["name"].strip():
                text += f" ({node['name'].strip()})"
        else:
            text += f".{part}" if text else part
            node = node.get(part) if isinstance(node, dict) else None
    return text or "top level"


def _problem(error: Any, root: type[BaseModel]) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        loc = error["loc"]
        nested: dict[str, type[BaseModel]] = {
            "encoder": EncoderConfig,
            "routes": RouteConfig,
            "prompts": PromptConfig,
        }
        model = nested.get(str(loc[0]), root) if len(loc) > 1 else root
        if loc[0] == "prompts" and len(loc) > 3:
            model = GenerationDefaults
        return f"unknown field; allowed: {', '.join(model.model_fields)}"
    if kind in ("string_too_short", "string_type"):
        return f"must be a non-empty string, got {_kind(value)}"
    if kind == "string_pattern_mismatch":
        return "must be 64 lowercase hex digits"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[
            kind
        ]
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        return f"must be {sign} {bound:g}, got {_kind(value)}"
    if kind in ("int_type", "int_from_float"):
        return f"must be an integer, got {_kind(value)}"
    if kind in ("float_type", "finite_number"):
        return f"must be a number, got {_kind(value)}"
    if kind == "too_short":
        return f"must be a non-empty list, got {_kind(value) if value else 'an empty list'}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, got {_kind(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping, got {_kind(value)}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"must be one of {expected}, got {_kind(value)}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def parse_routes(data: Any, source: str = "<routes>") -> RoutesConfig:
    """Validate already-loaded YAML data; raises RoutesError naming the offending field."""
    try:
        return RoutesConfig.model_validate(data)
    except ValidationError as e:
        raise parse_error(e, data, source, RoutesConfig) from None


def parse_error(error: ValidationError, data: Any, source: str, root: type[BaseModel]) -> RoutesError:
    """One line per problem pydantic found, each naming the field and what is wrong."""
    errors = error.errors()
    # A list whose every item failed also reports itself "too short"; its items say why.
    problems = [
        f"{_where(err['loc'], data)}: {_problem(err, root)}"
        for err in errors
        if not (
            err["type"] == "too_short"
            and any(o["loc"][: len(err["loc"])] == err["loc"] and o is not err for o in errors)
        )
    ]
    return RoutesError(f"{source}: " + f"\n{source}: ".join(problems))


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


@dataclass(frozen=True)
class Candidate:
    """A checked candidate: its name, what to do with it and its whole routes configuration."""

    name: str
    shadow: bool
    review: bool
    config: RoutesConfig


def candidate(config: RoutesConfig, source: str = "<routes>") -> Candidate | None:
    """The file's candidate, its settings laid over the live ones; None when it has none. Raises
    RoutesError naming the candidate's field that is wrong."""
    if config.candidate is None:
        return None
    where = f"{source}: candidate"
    try:
        found = CandidateConfig.model_validate(config.candidate)
    except ValidationError as e:
        raise parse_error(e, config.candidate, where, CandidateConfig) from None
    merged = {**config.model_dump(mode="json", exclude={"candidate"}), **found.settings()}
    return Candidate(found.name, found.shadow, found.review, parse_routes(merged, where))


def check_served(config: RoutesConfig, served: Collection[str], source: str = "<routes>") -> None:
    """Raise RoutesError if the routes send requests to a model the proxy does not serve."""
    targets = [(f"route {r.name!r} sends to model", model) for r in config.routes for model in r.models]
    targets.append(("default_model is", config.default_model))
    unserved = [f"{what} {model!r}" for what, model in targets if model not in served]
    if unserved:
        raise RoutesError(
            f"{source}: {'; '.join(unserved)}, which this proxy does not serve "
            f"(it serves {', '.join(sorted(served))})"
        )


def json_schema() -> str:
    """The routes file's JSON Schema, as checked in beside this file."""
    schema = RoutesConfig.model_json_schema()
    # The candidate is checked on its own, but editors check it as what it is.
    candidate_schema = CandidateConfig.model_json_schema()
    schema["$defs"] |= candidate_schema.pop("$defs") | {"CandidateConfig": candidate_schema}
    schema["properties"]["candidate"]["anyOf"][0] = {"$ref": "#/$defs/CandidateConfig"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dynamic-model-router routes file"
    return json.dumps(schema, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(json_schema())
