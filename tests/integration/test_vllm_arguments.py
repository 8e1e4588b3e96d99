"""Every argument the chart gives vLLM is one vLLM's own parser takes, with the meaning the chart
intends: the rendered ServingRuntime's arguments, parsed and validated by the local vLLM (0.32)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dmr_tools.chart import find, render
from dmr_tools.paths import CHART, VLLM_PYTHON

# vLLM 0.32 keeps its parser in launchers/ (0.24: vllm.entrypoints.openai.cli_args).
PARSE = """
import json, sys
from vllm.entrypoints.launchers.cli_args import make_arg_parser, validate_parsed_serve_args
from vllm.utils.argparse_utils import FlexibleArgumentParser
args = make_arg_parser(FlexibleArgumentParser()).parse_args(json.loads(sys.argv[1]))
validate_parsed_serve_args(args)
print(json.dumps(vars(args), default=str))
"""


def parsed(args: list[str], template: Path) -> dict:
    local = [a.replace("/etc/vllm/chat-template/template.jinja", str(template)) for a in args]
    done = subprocess.run(
        [str(VLLM_PYTHON), "-c", PARSE, json.dumps(local)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"vLLM's parser refused {local}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "values",
    [(), (str(CHART / "values-openshift-ai-2.yaml"),), ("three-adapters.yaml", "runtime-adapters.yaml")],
    ids=["defaults", "openshift-ai-2", "three-adapters-and-runtime-adapters"],
)
def test_vllms_own_parser_takes_the_rendered_arguments_as_the_chart_means_them(values, tmp_path: Path):
    template = tmp_path / "template.jinja"
    template.write_text("{{ messages }}", encoding="utf-8")
    container = find(render(*values), "ServingRuntime", "-vllm")["spec"]["containers"][0]
    args = container["args"]
    got = parsed(args, template)
    assert got["port"] == 8080 and got["model"] == "/mnt/models"
    assert got["served_model_name"] == ["phi2"] and got["enable_lora"] is True
    modules = args[args.index("--lora-modules") + 1 :]
    assert len(got["lora_modules"]) == len(modules), got["lora_modules"]
    assert f"--max-lora-rank={got['max_lora_rank']}" in args and f"--max-loras={got['max_loras']}" in args
    assert got["chat_template"] == str(template)
