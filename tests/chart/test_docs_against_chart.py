"""The docs against the chart they describe: every `<fullname>-X` object name, every value key and every
block marked runnable (values that must render, commands run from the repository) is right."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from dmr_tools.chart import render
from dmr_tools.paths import CHART, ROOT, TOOLS
from support.docs import DOCS, Block, runnable_blocks, unknown_object_names, unknown_value_keys, value_keys

FULLNAME = "router-dynamic-model-router"
SCHEMA = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
TOP_LEVEL = list(yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def object_names() -> set[str]:
    # Release "router", as the docs' `helm install router`, with the optional volumes the docs describe.
    objects = render("runtime-adapters.yaml", "shadow.yaml", monitoring=True)
    names = {o["metadata"]["name"] for o in objects}
    assert FULLNAME + "-routes" in names, f"the chart's names changed: {sorted(names)}"
    return names


def test_every_object_name_the_docs_give_is_one_the_chart_renders(object_names: set[str]):
    wrong = {
        f"{doc.name}: {name}"
        for doc in DOCS
        for name in unknown_object_names(doc.read_text(encoding="utf-8"), FULLNAME, object_names)
    }
    assert not wrong, f"the docs name objects the chart does not render (as {FULLNAME}): {sorted(wrong)}"
    stale = [
        doc.name
        for doc in DOCS
        if "<release>-routes" in doc.read_text() or "<release>-litellm" in doc.read_text()
    ]
    assert not stale, f"the docs still name objects <release>-...: {stale}"


def test_the_object_name_check_finds_a_planted_wrong_name(object_names: set[str]):
    text = "oc logs deploy/<fullname>-litellm, then oc edit configmap <fullname>-route"
    assert unknown_object_names(text, FULLNAME, object_names) == {"<fullname>-route"}


def test_every_value_key_the_docs_name_is_one_the_chart_takes():
    keys = {doc.name: value_keys(doc.read_text(encoding="utf-8"), TOP_LEVEL) for doc in DOCS}
    assert sum(map(len, keys.values())) > 40, f"the docs name fewer value keys than expected: {keys}"
    unknown = {name: sorted(unknown_value_keys(found, SCHEMA)) for name, found in keys.items()}
    assert not any(unknown.values()), f"the docs name value keys values.schema.json refuses: {unknown}"


def test_the_value_key_check_finds_a_planted_wrong_key():
    keys = value_keys(
        "set `vllm.replica` and `--set litellm.image.tags=1` but not `vllm.replicas`", TOP_LEVEL
    )
    assert unknown_value_keys(keys, SCHEMA) == {"vllm.replica", "litellm.image.tags"}


VALUES_BLOCKS = runnable_blocks("values")
REPO_BLOCKS = runnable_blocks("repo")


def test_docs_mark_blocks_to_run():
    assert len(VALUES_BLOCKS) >= 2 and len(REPO_BLOCKS) >= 2, (VALUES_BLOCKS, REPO_BLOCKS)


@pytest.mark.parametrize("block", VALUES_BLOCKS, ids=[b.where for b in VALUES_BLOCKS])
def test_every_values_block_of_the_docs_renders(block: Block, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(block.text, encoding="utf-8")
    assert yaml.safe_load(block.text), f"{block.where} is not a values file"
    render(str(values))


@pytest.mark.parametrize("block", REPO_BLOCKS, ids=[b.where for b in REPO_BLOCKS])
def test_every_command_block_of_the_docs_runs_from_the_repository(block: Block):
    block.run({**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{TOOLS}:{os.environ['PATH']}"}, timeout_s=600)
