"""Runtime adapters and canaries without a model server: the checks an adapter folder must pass,
the canary's split and its stickiness, and what the hook does with an adapter it cannot serve yet.
Loading into a real vLLM is tested against the live stack (tests/integration/test_runtime_adapters.py)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from dynamic_model_router.decide.conversation import conversation_share
from dynamic_model_router.decide.decider import RouteDecider, served_only
from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.observe.client_notice import UNAVAILABLE_HEADER, response_headers
from dynamic_model_router.routes_file import (
    DEFAULT_ROUTES_FILE,
    CanaryConfig,
    RoutesError,
    check_served,
    load_routes,
)
from dynamic_model_router.runtime.adapters import NAME, Problem, RuntimeAdapters, check
from dynamic_model_router.runtime.live_routes import LiveRoutes
from support.hooks import hook_with
from support.prompts import MEDICAL, user

BASE = "microsoft/phi-2"
GOOD = {"peft_type": "LORA", "r": 16, "base_model_name_or_path": BASE, "target_modules": ["q_proj"]}


def adapter(folder: Path, config: dict | str = GOOD, weights: bool = True) -> Path:
    folder.mkdir(parents=True)
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "adapter_config.json").write_text(text, encoding="utf-8")
    if weights:
        (folder / "adapter_model.safetensors").write_bytes(b"\0")
    return folder


@pytest.mark.parametrize(
    ("config", "weights", "problem", "says"),
    [
        ("{not json", True, Problem.BAD_CONFIG, "cannot be read as JSON"),
        ("[1, 2]", True, Problem.BAD_CONFIG, "not a JSON object"),
        ({**GOOD, "peft_type": "IA3"}, True, Problem.NOT_LORA, "'IA3'"),
        ({**GOOD, "r": "16"}, True, Problem.BAD_CONFIG, "not a whole number"),
        ({**GOOD, "r": 64}, True, Problem.RANK_TOO_HIGH, "rank 64 is above vLLM's --max-lora-rank 32"),
        ({**GOOD, "rank_pattern": {"q_proj": 128}}, True, Problem.RANK_TOO_HIGH, "rank 128"),
        (
            {**GOOD, "base_model_name_or_path": "meta-llama/Llama-3.1-8B"},
            True,
            Problem.BASE_MODEL_MISMATCH,
            "Llama",
        ),
        (GOOD, False, Problem.NO_WEIGHTS, "adapter_model.safetensors"),
    ],
)
def test_a_broken_adapter_folder_is_named_with_its_problem(
    tmp_path: Path, config: dict | str, weights: bool, problem: Problem, says: str
):
    found = check(adapter(tmp_path / "pets", config, weights), [BASE], max_rank=32)
    assert found is not None and found[0] is problem, f"expected {problem}, got {found}"
    assert says in found[1], f"the detail {found[1]!r} does not say {says!r}"


def test_a_good_adapter_folder_passes(tmp_path: Path):
    assert check(adapter(tmp_path / "pets"), [BASE], max_rank=32) is None


def test_only_folders_named_like_models_count_as_adapters(tmp_path: Path):
    for name in ("pets", "doctor-v2", "Bad Name", ".hidden", "x..y"):
        (tmp_path / name).mkdir()
    (tmp_path / "file").write_text("", encoding="utf-8")
    found = RuntimeAdapters(tmp_path, "http://127.0.0.1:1/v1", [BASE], 32, models=None).present()  # type: ignore[arg-type]
    assert found == {"pets", "doctor-v2", "x..y"}, found
    assert not NAME.match("../etc") and not NAME.match("a/b"), "a name must never be a path"


def canary_routes(share: float) -> RouteDecider:
    config = load_routes()
    canary = CanaryConfig(model="doctor-v2", share=share)
    routes = tuple(
        r.model_copy(update={"canary": canary}) if r.name == "doctor" else r for r in config.routes
    )
    return RouteDecider(config.model_copy(update={"routes": routes}))


def conversation(opening: str, *more: str) -> list[dict]:
    messages = [{"role": "user", "content": opening}]
    for text in more:
        messages += [{"role": "assistant", "content": "I see."}, {"role": "user", "content": text}]
    return messages


def test_a_canary_takes_its_share_of_conversations_and_each_keeps_its_version():
    decider = canary_routes(0.2)
    openings = [f"{MEDICAL} (case {i})" for i in range(200)]
    first = {text: decider.decide(conversation(text)).model for text in openings}
    counts = Counter(first.values())
    assert set(counts) == {"doctor", "doctor-v2"}, counts
    assert 0.12 < counts["doctor-v2"] / len(openings) < 0.28, f"a 20% canary took {counts}"
    for text in openings[:40]:
        later = decider.decide(
            conversation(text, "and how long will it take to heal?", "thanks, and the pain?")
        )
        assert later.model == first[text], f"the conversation opened with {text!r} changed version"


def test_a_canary_at_full_share_takes_every_conversation_and_at_zero_none():
    everything = {canary_routes(1.0).decide(conversation(f"{MEDICAL} {i}")).model for i in range(30)}
    nothing = {canary_routes(0.0).decide(conversation(f"{MEDICAL} {i}")).model for i in range(30)}
    assert (everything, nothing) == ({"doctor-v2"}, {"doctor"})


def test_the_conversation_share_reads_only_the_first_user_message():
    assert conversation_share(conversation("hi", "more"), 2000) == conversation_share(
        conversation("hi"), 2000
    )
    assert conversation_share(conversation("hi"), 2000) != conversation_share(conversation("hello"), 2000)


def test_the_canary_s_model_must_be_served_like_the_route_s():
    config = canary_routes(0.2).config
    with pytest.raises(RoutesError, match="'doctor-v2'"):
        check_served(config, {"auto", "phi2", "doctor", "dcot"})


def test_an_adapter_that_is_not_loaded_is_answered_by_the_base_model_with_reason_unavailable():
    decider = canary_routes(1.0)
    wanted = decider.decide(user(MEDICAL))
    answered = served_only(wanted, {"auto", "phi2", "doctor", "dcot"}, decider.config, {"doctor-v2"})
    assert (answered.model, answered.reason, answered.wanted) == ("phi2", Reason.UNAVAILABLE, "doctor-v2")
    assert answered.route == "doctor", "the route that took the request is kept"
    assert response_headers(answered, None)[UNAVAILABLE_HEADER] == "doctor-v2"


def test_the_hook_counts_and_logs_an_unloaded_adapter_with_why(caplog):
    decider = canary_routes(1.0)
    hook = hook_with(
        decider, {"auto", "phi2", "doctor", "dcot"}, lambda: {"doctor-v2": "rank-too-high: rank 64"}
    )
    data = {"model": "auto", "messages": user(MEDICAL)}
    with caplog.at_level("WARNING"):
        asyncio.run(hook.async_pre_call_hook(None, None, data, "completion"))
    assert data["model"] == "phi2"
    assert "route_unavailable" in caplog.text and "rank-too-high: rank 64" in caplog.text, caplog.text


def test_a_routes_edit_may_name_an_adapter_whose_folder_is_there_but_no_other_unserved_name(tmp_path: Path):
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    volume = tmp_path / "adapters"
    adapter(volume / "pets")
    adapters = RuntimeAdapters(volume, "http://127.0.0.1:1/v1", [BASE], 32, models=None)  # type: ignore[arg-type]
    live = LiveRoutes(routes_file, 0, lambda: {"auto", "phi2", "doctor", "dcot"}, adapters)
    text = routes_file.read_text(encoding="utf-8")
    routes_file.write_text(text.replace("    model: dcot\n", "    model: pets\n"), encoding="utf-8")
    assert live.reload(), "a route naming an adapter folder in the volume was refused"
    assert live.runtime_models() == {"pets"}
    assert live.unavailable() == {"pets": "not loaded yet"}
    routes_file.write_text(text.replace("    model: dcot\n", "    model: petz\n"), encoding="utf-8")
    assert not live.reload(), "a route naming neither a served model nor an adapter folder was taken"
