"""Each adapter's prompt format, declared with it in the values, rendered for the proxy and vLLM."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from dmr_tools.chart import chart_file, find, render, render_error
from dmr_tools.paths import CHART
from dynamic_model_router.prompts import render as render_prompt
from dynamic_model_router.routes_file import RoutesError, parse_routes

VALUES = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
QUESTION = "Three boxes hold 4 apples each; how many apples in all?"


def routes(*values: str, sets: tuple[str, ...] = ()) -> dict[str, Any]:
    return yaml.safe_load(chart_file("litellm/litellm-routes-configmap.yaml", "routes.yaml", *values))


def vllm_args(*values: str) -> list[str]:
    return find(render(*values), "ServingRuntime")["spec"]["containers"][0]["args"]


def test_the_routes_file_carries_dcot_cards_format_and_asks_the_base_model_and_doctor_as_before():
    rendered = parse_routes(routes())
    assert set(rendered.prompts) == {"dcot"}, "doctor's card documents no format: it is asked like phi-2"
    dcot = rendered.prompts["dcot"]
    assert dcot.reply == "dcot" and (dcot.defaults.max_tokens or 0) >= 512, dcot
    prompt = render_prompt(dcot.chat_template or "", [{"role": "user", "content": QUESTION}])
    assert prompt == f"[Question] {QUESTION}\n[Number of answers] 2\n", prompt


def test_vllm_trusts_request_templates_only_when_an_adapter_has_one_and_its_version_knows_the_flag():
    assert "--trust-request-chat-template" in vllm_args()
    assert "--trust-request-chat-template" not in vllm_args("../../chart/values-openshift-ai-2.yaml"), (
        "vLLM 0.9.1 has no such flag and would not start"
    )
    assert "--trust-request-chat-template" not in vllm_args("doctor-only.yaml"), (
        "without an adapter's own template, vLLM need not take one from any request"
    )


def adapters_with(prompt: Any) -> str:
    adapters = [{"name": "doctor", "rank": 64}, {"name": "dcot", "rank": 64, "prompt": prompt}]
    return f"adapters={json.dumps(adapters)}"


@pytest.mark.parametrize(
    ("prompt", "said"),
    [
        ({"chat_template": "Think step by step."}, "has no place for the question"),
        ({"chat_template": "{% for m in messages %}{{ m.content }}"}, "is not a valid Jinja template"),
        ({"defaults": {"max_tokens": "a lot"}}, "max_tokens"),
        ({"defaults": {"logit_bias": {}}}, "logit_bias"),
        ({"reply": "markdown"}, "reply"),
        ({"chat_templat": "x"}, "chat_templat"),
    ],
)
def test_a_bad_prompt_format_fails_the_render_and_the_router_alike(prompt: dict[str, Any], said: str):
    chart = render_error(set_json=(adapters_with(prompt),))
    assert said in chart, f"the chart's error does not say {said!r}:\n{chart}"
    with pytest.raises(RoutesError) as router:
        parse_routes({**routes(), "prompts": {"dcot": prompt}}, "routes.yaml")
    assert said in str(router.value), router.value


def test_a_new_adapters_own_format_in_the_values_reaches_the_routes_file_and_vllm_trusts_it():
    rendered = parse_routes(routes("sql-prompt.yaml"))
    assert set(rendered.prompts) == {"sql"}, "dcot is left out with its format"
    sql = rendered.prompts["sql"]
    assert render_prompt(sql.chat_template or "", [{"role": "user", "content": QUESTION}]) == (
        f"-- Question: {QUESTION}\n-- SQL:"
    ), "Jinja drops a template's last newline, as vLLM's rendering does"
    assert (sql.system_prompt, sql.defaults.temperature, sql.defaults.max_tokens) == (
        "Answer with one SQL query.",
        0,
        256,
    )
    assert "--trust-request-chat-template" in vllm_args("sql-prompt.yaml")
