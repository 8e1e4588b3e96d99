"""What the README and docs/ say, read the way the tests check it: the object names, value keys and
code blocks that are marked to run (`<!-- runnable: KIND -->` on the line before the block)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmr_tools.paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The kinds of runnable block: chart values that must render, commands run from the repository's root,
# commands run against the `make up` stack with `.run/env`'s variables set.
KINDS = ("values", "repo", "stack")
RUNNABLE = re.compile(r"^<!-- runnable: (\w+) -->\n```[\w-]*\n(.*?)^```", re.M | re.S)
FULLNAME_NAME = re.compile(r"<fullname>((?:-[a-z0-9]+)*)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    kind: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    def run(self, env: dict[str, str], timeout_s: float) -> str:
        """Run the block with bash from the repository's root, as a reader would paste it (but stopping
        at the first failing command); fails unless it succeeds and prints something. Its output."""
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.text],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        assert result.returncode == 0, (
            f"{self.where} failed ({result.returncode}):\n{self.text}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
        assert result.stdout.strip(), f"{self.where} printed nothing:\n{self.text}"
        return result.stdout


def runnable_blocks(kind: str, docs: list[Path] = DOCS) -> list[Block]:
    """The blocks of this kind; a marker naming another kind is an error, not a silent skip."""
    blocks = []
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        for match in RUNNABLE.finditer(text):
            assert match.group(1) in KINDS, f"{doc.name}: unknown runnable kind {match.group(1)!r}"
            if match.group(1) == kind:
                line = text.count("\n", 0, match.start()) + 2
                blocks.append(Block(doc, line, kind, match.group(2)))
    return blocks


def unknown_object_names(text: str, fullname: str, names: set[str]) -> set[str]:
    """The `<fullname>-X` names in a text that are not among the rendered objects' names."""
    return {
        f"<fullname>{suffix}"
        for suffix in FULLNAME_NAME.findall(text)
        if suffix and fullname + suffix not in names
    }


def value_keys(text: str, top_level: list[str]) -> set[str]:
    """Dotted chart value keys (`vllm.replicas`, `--set litellm.image.tag=...`) written in code."""
    key = re.compile(rf"^(?:--set(?:-json)?[ =])?((?:{'|'.join(top_level)})(?:\.\w+)+)(?![\w./])")
    spans = CODE_SPAN.findall(text) + re.findall(r"--set(?:-json)? (\S+)=", text)
    found = set()
    for span in spans:
        for word in re.split(r"[\s:=,]+", span):
            if match := key.match(word):
                found.add(match.group(1))
    return found


def unknown_value_keys(keys: set[str], schema: dict[str, Any]) -> set[str]:
    """The keys values.schema.json does not allow; a free-form map (labels, annotations) takes any key."""
    unknown = set()
    for dotted in keys:
        node = schema
        for part in dotted.split("."):
            if node.get("type") == "array":
                node = node.get("items", {})
            properties = node.get("properties")
            if properties is None and node.get("type") == "object":
                break
            if properties is None or part not in properties:
                unknown.add(dotted)
                break
            node = properties[part]
    return unknown
