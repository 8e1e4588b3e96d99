"""The router package forms layers: each part imports only parts listed before it (or modules of its
own part, without cycles), never back up; the offline tools (training) are never imported by what
the proxy loads; and nothing imports the LiteLLM callbacks at the top."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from dmr_tools.paths import ROUTER

PACKAGE = "dynamic_model_router"
ROOT = ROUTER / PACKAGE
# Bottom to top, as dynamic_model_router/__init__.py lists them.
LAYERS = (
    *("log", "shipped", "prompts", "routes_file", "encoding", "decide"),
    *("observe", "runtime", "request", "reply", "hook"),
)
TRAINING = "training"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROUTER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in ROOT.rglob("*.py")}


def part_of(module: str) -> str:
    """The layer a module belongs to: the first name under the package."""
    return module.split(".")[1] if module.count(".") else ""


def imports_of(path: Path) -> set[str]:
    """The package's modules a module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                for a in node.names
            }
    return {name for name in found if name in MODULES}


RUNTIME = {name: path for name, path in MODULES.items() if part_of(name) not in (TRAINING, "")}


def test_every_part_of_the_package_is_a_known_layer():
    unknown = sorted({part_of(name) for name in RUNTIME} - set(LAYERS))
    assert not unknown, f"{unknown} are not in LAYERS: add them where they belong, bottom to top"


def test_each_part_imports_only_the_parts_below_it():
    upward = [
        f"{name} imports {target}"
        for name, path in RUNTIME.items()
        for target in imports_of(path)
        if part_of(target) in LAYERS and LAYERS.index(part_of(target)) > LAYERS.index(part_of(name))
    ]
    assert not upward, "imports back up the layers: " + "; ".join(sorted(upward))


def test_the_modules_import_each_other_without_cycles():
    graph = {name: imports_of(path) for name, path in MODULES.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as e:
        raise AssertionError(f"the router's modules import in a circle: {e.args[1]}") from None


def test_no_runtime_module_imports_the_offline_tools():
    offenders = [
        name for name, path in RUNTIME.items() if any(part_of(t) == TRAINING for t in imports_of(path))
    ]
    assert not offenders, f"{offenders} import {PACKAGE}.{TRAINING}, which the proxy never runs"


def test_nothing_imports_the_hook_or_the_guards():
    for top in (f"{PACKAGE}.hook", f"{PACKAGE}.request.guards"):
        importers = [name for name, path in MODULES.items() if top in imports_of(path)]
        assert not importers, f"{importers} import {top}, a LiteLLM callback at the top of the layers"
