"""The router's modules form layers: each imports only modules below it, never back up, and the
offline tools are never imported by what the proxy loads."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from support.paths import ROUTER

RUNTIME = {path.stem: path for path in ROUTER.glob("*.py")}
TOOLS = "route_tools"


def imports_of(path) -> set[str]:
    """The project modules (and the tools package) a module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        found |= {n.split(".")[0] for n in names} & (RUNTIME.keys() | {TOOLS})
    return found


def test_the_runtime_modules_import_each_other_without_cycles():
    graph = {name: imports_of(path) - {TOOLS} for name, path in RUNTIME.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as e:
        raise AssertionError(f"the router's modules import in a circle: {e.args[1]}") from None


def test_no_runtime_module_imports_the_offline_tools():
    offenders = [name for name, path in RUNTIME.items() if TOOLS in imports_of(path)]
    assert not offenders, f"{offenders} import {TOOLS}, which the proxy image does not carry"


def test_nothing_imports_the_hook_or_the_guards():
    for top in ("custom_router", "request_guards"):
        importers = [name for name, path in RUNTIME.items() if top in imports_of(path)]
        assert not importers, f"{importers} import {top}, a LiteLLM callback at the top of the layers"
