"""Each model asked the way it was trained (request/prompt_format.py), checked before it serves."""

from __future__ import annotations

import asyncio
import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from litellm.types.utils import CallTypes

from dmr_tools.paths import CHART
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.hook import SemanticRouterHook
from dynamic_model_router.log import LOGGER_NAME
from dynamic_model_router.prompts import render
from dynamic_model_router.request.prompt_format import shape
from dynamic_model_router.routes_file import (
    DEFAULT_ROUTES_FILE,
    PromptConfig,
    RoutesError,
    load_routes,
    parse_routes,
)
from dynamic_model_router.runtime.live_routes import LiveRoutes
from support.hooks import hook_with

QUESTION = "If a train leaves at 3 pm and the trip takes 2.5 hours, when does it arrive?"


def chart_prompt(adapter: str) -> dict[str, Any]:
    """An adapter's `prompt` as the chart's values.yaml declares it."""
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return next(a for a in values["adapters"] if a["name"] == adapter)["prompt"]


def routes_with(prompts: dict[str, Any]) -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"))
    data["prompts"] = prompts
    return data


def test_the_charts_dcot_format_is_the_model_cards_question_and_number_of_answers():
    template = PromptConfig(**chart_prompt("dcot")).chat_template
    assert template is not None
    alone = render(
        template, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
    )
    assert alone == f"[Question] {QUESTION}\n[Number of answers] 2\n", alone
    follow_up = render(
        template,
        [
            {"role": "user", "content": "I take the 3 pm train."},
            {"role": "assistant", "content": "<details>...</details> **Final answer:** ok"},
            {"role": "user", "content": QUESTION},
        ],
    )
    assert follow_up == f"[Question] {QUESTION}\n[Context] I take the 3 pm train.\n[Number of answers] 2\n", (
        "earlier questions go in [Context], earlier answers are left out"
    )


@pytest.mark.parametrize(
    ("prompt", "problem"),
    [
        ({"chat_template": "{% for m in messages %}{{ m.content }}"}, "is not a valid Jinja template"),
        ({"chat_template": "Answer step by step."}, "has no place for the question"),
        ({"chat_template": "{{ messages[9].content }}"}, "does not render a conversation"),
        ({"defaults": {"max_tokens": "lots"}}, "defaults.max_tokens: must be an integer, got str 'lots'"),
        ({"defaults": {"temperature": 7}}, "defaults.temperature: must be <= 2, got int 7"),
        ({"defaults": {"top_p": 0}}, "defaults.top_p: must be > 0, got int 0"),
        ({"defaults": {"stop": ["a", "b", "c", "d", "e"]}}, "defaults.stop"),
        ({"defaults": {"logit_bias": {}}}, "defaults.logit_bias: unknown field; allowed: max_tokens"),
        ({"reply": "markdown"}, "prompts.dcot.reply: must be one of plain or dcot"),
        ({"template": "x"}, "prompts.dcot.template: unknown field; allowed: chat_template"),
        ({"system_prompt": 3}, "prompts.dcot.system_prompt: must be a non-empty string"),
    ],
)
def test_a_bad_prompt_format_is_refused_naming_the_model_and_the_problem(prompt: dict, problem: str):
    with pytest.raises(RoutesError) as refused:
        parse_routes(routes_with({"dcot": prompt}), "routes.yaml")
    assert "routes.yaml: prompts.dcot." in str(refused.value) and problem in str(refused.value), refused.value


def test_a_broken_prompt_format_edit_keeps_the_last_good_one_serving(tmp_path: Path, caplog):
    path = tmp_path / "routes.yaml"
    good = routes_with({"dcot": chart_prompt("dcot")})
    path.write_text(yaml.safe_dump(good), encoding="utf-8")
    live = LiveRoutes(path, check_interval_s=0)
    broken = copy.deepcopy(good)
    broken["prompts"]["dcot"]["chat_template"] = "{% if %}"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")

    async def reload() -> None:
        live.refresh()
        if live._reload_task is not None:
            await live._reload_task

    with caplog.at_level("ERROR", logger=LOGGER_NAME):
        asyncio.run(reload())
    assert live.config.prompts["dcot"].chat_template == good["prompts"]["dcot"]["chat_template"]
    assert any("prompts.dcot.chat_template" in r.getMessage() for r in caplog.records), caplog.text


DCOT = PromptConfig(
    chat_template="[Question] {{ messages[-1].content }}",
    system_prompt="Think it through.",
    defaults={"max_tokens": 1024, "temperature": 0.2, "stop": ["[Question]"]},  # type: ignore[arg-type]
    reply="dcot",
)


def test_shaping_sends_the_template_system_prompt_and_defaults_without_touching_the_original():
    kwargs = {"model": "hosted_vllm/dcot", "messages": [{"role": "user", "content": QUESTION}]}
    before = copy.deepcopy(kwargs)
    shaped = shape(kwargs, DCOT)
    assert kwargs == before, "LiteLLM sends the original again to a fallback model: it must stay as it was"
    assert shaped["extra_body"] == {"chat_template": DCOT.chat_template}
    assert shaped["messages"] == [{"role": "system", "content": "Think it through."}, *before["messages"]]
    assert (shaped["max_tokens"], shaped["temperature"], shaped["stop"]) == (1024, 0.2, ["[Question]"])


def test_a_clients_own_generation_settings_win_over_the_models_defaults():
    kwargs = {"messages": [], "temperature": 0.9, "max_completion_tokens": 50, "stop": None}
    shaped = shape(kwargs, DCOT)
    assert shaped["temperature"] == 0.9
    assert "max_tokens" not in shaped, "max_completion_tokens is the client's max_tokens"
    assert shaped["stop"] == ["[Question]"], "a setting the client left empty takes the default"


def hook_over(tmp_path: Path, prompts: dict[str, Any]) -> SemanticRouterHook:
    path = tmp_path / "routes.yaml"
    shutil.copyfile(DEFAULT_ROUTES_FILE, path)
    path.write_text(yaml.safe_dump(routes_with(prompts)), encoding="utf-8")
    return hook_with(RouteDecider(load_routes(path)))


def deployment_call(hook: SemanticRouterHook, model_group: str, call_type: CallTypes) -> dict | None:
    kwargs = {
        "model": f"hosted_vllm/{model_group}",
        "messages": [{"role": "user", "content": QUESTION}],
        "metadata": {"model_group": model_group},
    }
    return asyncio.run(hook.async_pre_call_deployment_hook(kwargs, call_type))


def test_each_model_litellm_calls_is_asked_its_own_way_fallbacks_included(tmp_path: Path):
    hook = hook_over(tmp_path, {"dcot": chart_prompt("dcot")})
    shaped = deployment_call(hook, "dcot", CallTypes.acompletion)
    assert shaped is not None and "[Number of answers]" in shaped["extra_body"]["chat_template"]
    assert deployment_call(hook, "phi2", CallTypes.acompletion) is None, (
        "the base model (a fallback from dcot, say) keeps vLLM's own template"
    )
    assert deployment_call(hook, "dcot", CallTypes.atext_completion) is None, (
        "a text completion is a raw prompt: no chat template applies"
    )
