"""Write the chart's README.md tables and values.schema.json from values.yaml's `## @param` lines.

    python -m dmr_tools.generate.chart_docs GENERATOR [--check]

GENERATOR is @bitnami/readme-generator-for-helm's `readme-generator` (`make setup` installs it
into .tools). It writes the README's parameter tables and a schema of the values' types; this
script then makes that schema strict, so the values' annotations stay the one source:
- every object the values declare keys for refuses other keys (a typo fails at install);
- `[object]` params (labels, resources, selectors: free-form maps), which the generator leaves
  out, are open objects; `[array]` params are lists; in the README their defaults (which the
  generator shows as `{}` or `[]`) and multi-line strings are the values' own, as JSON;
- an adapter's route fields (utterances, threshold, miss_cost, description) take the routes file's own
  rules from RouteConfig, the router's one place for what a valid route is, and its `prompt` those of
  the routes file's `prompts` entries (PromptConfig).
Rules a schema cannot say (names the models may have, the largest LoRA rank vLLM accepts, image
digests) are `fail`s in the templates that use those values.
With --check nothing is written: it exits 1 naming the files that are not current.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from dmr_tools.paths import ROOT
from dynamic_model_router.routes_file import CandidateConfig, EncoderConfig, PromptConfig, RouteConfig

CHART = ROOT / "chart"
PARAM = re.compile(r"^## @param (\S+)(?: \[([^\]]+)\])? (.*)$", re.M)
# The adapter entry's own fields; its route fields come from RouteConfig.
ADAPTER_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "description": "Model name of the adapter (clients and routes use it)"},
    "path": {"type": "string", "minLength": 1, "description": "Adapter folder in the model source"},
    "rank": {"type": "integer", "minimum": 1, "description": "The adapter's LoRA r (adapter_config.json)"},
    "routed": {
        "type": "boolean",
        "description": "false: served only to clients that name it, with no route (default: needs a route)",
    },
}
ROUTE_FIELDS = ("utterances", "threshold", "miss_cost", "description")


def inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's JSON Schema with its nested models written in place of their $refs."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        return [resolve(v) for v in node] if isinstance(node, list) else node

    return resolve(schema)


def adapter_items() -> dict[str, Any]:
    route = RouteConfig.model_json_schema()["properties"]
    prompt = {
        "type": "object",
        "additionalProperties": False,
        "description": "How the adapter is asked and its replies shown (docs/prompt-formats.md)",
        "properties": inlined(PromptConfig.model_json_schema())["properties"],
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {**ADAPTER_FIELDS, **{field: route[field] for field in ROUTE_FIELDS}, "prompt": prompt},
    }


def routes_file_object(model: type[BaseModel], description: str) -> dict[str, Any]:
    """A value written into the routes file as it is: typed by the file's own model; `{}`, none."""
    schema = inlined(model.model_json_schema())
    entry = {"type": "object", "description": description, "properties": schema["properties"]}
    if required := schema.get("required"):
        entry |= {"if": {"minProperties": 1}, "then": {"required": required}}
    return entry


# Values the chart writes into the routes file, and the routes file's model of each.
ROUTES_FILE_VALUES: dict[str, type[BaseModel]] = {
    "router.encoder": EncoderConfig,
    "router.candidate": CandidateConfig,
}


def close(node: dict[str, Any]) -> None:
    """additionalProperties: false on every object with declared keys, all the way down."""
    if node.get("type") == "object" and "properties" in node:
        node["additionalProperties"] = False
        for child in node["properties"].values():
            close(child)


def strict(schema: dict[str, Any], values_text: str) -> dict[str, Any]:
    close(schema)
    for name, modifiers, description in PARAM.findall(values_text):
        kind = (
            {"object": "object", "array": "array"}.get(modifiers.split(",")[0].strip()) if modifiers else None
        )
        if kind is None:
            continue
        *parents, leaf = name.split(".")
        node = schema
        for part in parents:
            node = node["properties"][part]
        entry: dict[str, Any] = {"type": kind, "description": description}
        if name == "adapters":
            entry["items"] = adapter_items()
        if name in ROUTES_FILE_VALUES:
            entry = routes_file_object(ROUTES_FILE_VALUES[name], description)
            close(entry)
        node["properties"][leaf] = entry
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "dynamic-model-router values",
        **{k: v for k, v in schema.items() if k != "title"},
    }


# A row of a parameter table: `| \`name\` | description | \`default\` |`; a default may span lines.
ROW = re.compile(r"^(\| `(?P<name>[^`]+)` +\| .*? \| )`(?P<default>.*?)`( *\|)$", re.M | re.S)


def lookup(values: dict[str, Any], name: str) -> Any:
    node: Any = values
    for part in name.split("."):
        node = node[part]
    return node


def real_defaults(readme: str, values: dict[str, Any]) -> str:
    """The generator shows `{}` and `[]` for maps and lists with content, and writes a multi-line
    string across lines, which breaks the table: such defaults are written as compact JSON, on one
    line (pipes escaped, as GitHub's tables want even in code)."""

    def fill(row: re.Match[str]) -> str:
        value = lookup(values, row["name"])
        if isinstance(value, dict | list) or (isinstance(value, str) and "\n" in value):
            shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("|", "\\|")
            return f"{row[1]}`{shown}`{row[4]}"
        return row[0]

    return ROW.sub(fill, readme)


def generate(generator: str, out: Path) -> None:
    """README.md and values.schema.json for the chart, written into `out`."""
    shutil.copy(CHART / "README.md", out / "README.md")
    subprocess.run(
        [generator, "--values", str(CHART / "values.yaml"), "--readme", str(out / "README.md"),
         "--schema", str(out / "generated.json")],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    schema = json.loads((out / "generated.json").read_text(encoding="utf-8"))
    values_text = (CHART / "values.yaml").read_text(encoding="utf-8")
    readme = (out / "README.md").read_text(encoding="utf-8")
    (out / "README.md").write_text(real_defaults(readme, yaml.safe_load(values_text)), encoding="utf-8")
    text = json.dumps(strict(schema, values_text), indent=2) + "\n"
    (out / "values.schema.json").write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    generator, check = argv[0], "--check" in argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        try:
            generate(generator, out)
        except subprocess.CalledProcessError as e:
            print(f"readme-generator refused chart/values.yaml:\n{e.stdout}{e.stderr}", file=sys.stderr)
            return 1
        stale = [
            name
            for name in ("README.md", "values.schema.json")
            if (out / name).read_text(encoding="utf-8") != (CHART / name).read_text(encoding="utf-8")
        ]
        if check:
            for name in stale:
                print(f"chart/{name} is not current: run `make chart-docs`", file=sys.stderr)
            return 1 if stale else 0
        for name in stale:
            shutil.copy(out / name, CHART / name)
            print(f"wrote chart/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
