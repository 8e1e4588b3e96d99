"""Replies in the dcot format shown for people: chains folded, final answer standing out (reply/)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from litellm.types.utils import CallTypes

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import METADATA_KEY, Decision, Reason
from dynamic_model_router.hook import SemanticRouterHook
from dynamic_model_router.reply.dcot import DcotFolder, fold, unfold
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, load_routes
from support.hooks import hook_with

# Replies written in the format the dcot model card documents ([Answer k] chains, [Final answer]).
DCOT_REPLY = (
    "[Answer 1] The train leaves at 3 pm. 2.5 hours is 2 hours and 30 minutes. 3 pm plus 2 hours is 5 pm, "
    "plus 30 minutes is 5:30 pm.\n"
    "[Answer 2] 3:00 + 2:30 = 5:30 [in the afternoon], so 5:30 pm.\n"
    "[Final answer] 5:30 pm"
)
NOT_DCOT = "It arrives at 5:30 pm. [Answer 1] is not how this reply starts."


def test_a_dcot_reply_shows_its_final_answer_after_the_folded_chains():
    shown = fold(DCOT_REPLY)
    assert shown.startswith("<details>\n<summary>Chains of thought</summary>\n\n**Answer 1:**"), shown
    fold_end = shown.index("</details>")
    assert "**Answer 2:** 3:00 + 2:30 = 5:30 [in the afternoon]" in shown[:fold_end], (
        "both chains belong inside the fold, brackets that are no marker kept"
    )
    assert shown[fold_end:] == "</details>\n\n**Final answer:** 5:30 pm", shown[fold_end:]
    assert "[Answer" not in shown and "[Final answer]" not in shown, "no marker is left for people to read"


@pytest.mark.parametrize("reply", [NOT_DCOT, "", "[Ans", "  5:30 pm"])
def test_a_reply_that_does_not_open_with_the_first_chain_passes_unchanged(reply: str):
    assert fold(reply) == reply


def test_a_dcot_reply_cut_short_still_closes_its_fold_and_loses_nothing():
    shown = fold("[Answer 1] 3 pm plus 2.5 hours is [Fin")
    assert shown.endswith("3 pm plus 2.5 hours is [Fin\n\n</details>\n"), shown


@pytest.mark.parametrize(
    "reply",
    [DCOT_REPLY, "[Answer 1] 3 pm plus 2.5 hours is [Fin", "[Answer 1] a\n[Final answer] b\n\n[Answer 2] c"],
    ids=["whole", "cut-short", "markers-after-the-answer"],
)
def test_a_folded_reply_unfolds_to_the_models_own_text(reply: str):
    assert unfold(fold(reply)) == reply


@pytest.mark.parametrize("text", [NOT_DCOT, "", "<details>\n<summary>Mine</summary>\n\nx\n\n</details>\n"])
def test_text_the_proxy_did_not_fold_is_not_unfolded(text: str):
    assert unfold(text) == text


def test_a_conversation_reaches_each_model_with_its_earlier_dcot_reply_as_the_model_wrote_it():
    hook = hook_with(RouteDecider(load_routes(DEFAULT_ROUTES_FILE)))
    history = [
        {"role": "user", "content": "When does the 3 pm train arrive after 2.5 hours?"},
        {"role": "assistant", "content": fold(DCOT_REPLY)},
        {"role": "assistant", "content": [{"type": "text", "text": fold(DCOT_REPLY)}]},
        {"role": "user", "content": fold(DCOT_REPLY)},
    ]
    kwargs = {"model": "hosted_vllm/phi2", "messages": history, "metadata": {"model_group": "phi2"}}
    sent = asyncio.run(hook.async_pre_call_deployment_hook(kwargs, CallTypes.acompletion))
    assert sent is not None, "the folded replies were sent to the model as shown to people"
    assert sent["messages"][1]["content"] == DCOT_REPLY
    assert sent["messages"][2]["content"] == [{"type": "text", "text": DCOT_REPLY}]
    assert sent["messages"][3] == history[3], "a user's own text is theirs: never changed"
    assert kwargs["messages"] is history and history[1]["content"] == fold(DCOT_REPLY), (
        "LiteLLM sends the original again to a fallback model: it must stay untouched"
    )
    plain = {**kwargs, "messages": [history[0], {"role": "assistant", "content": NOT_DCOT}]}
    assert asyncio.run(hook.async_pre_call_deployment_hook(plain, CallTypes.acompletion)) is None


@pytest.mark.parametrize("size", [1, 2, 3, 7, 15, 40])
def test_a_streamed_dcot_reply_reads_the_same_as_a_whole_one_whatever_the_chunk_size(size: int):
    folder = DcotFolder()
    pieces = [folder.feed(DCOT_REPLY[i : i + size]) for i in range(0, len(DCOT_REPLY), size)]
    assert "".join(pieces) + folder.close() == fold(DCOT_REPLY)
    opens = len("[Answer 1]") // size  # the piece that shows the marker is complete
    assert all(p == "" for p in pieces[:opens]) and pieces[opens].startswith("<details>"), (
        f"the fold opens once the first marker is complete, the chains stream in it: {pieces[: opens + 1]}"
    )


def hook_with_dcot(tmp_path: Path) -> SemanticRouterHook:
    data = yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"))
    data["prompts"] = {"dcot": {"reply": "dcot"}}
    path = tmp_path / "routes.yaml"
    shutil.copyfile(DEFAULT_ROUTES_FILE, path)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return hook_with(RouteDecider(load_routes(path)))


# Shaped like LiteLLM's ModelResponse and ModelResponseStream, as far as the presenter reads them.
def whole(model: str, content: str) -> SimpleNamespace:
    message = SimpleNamespace(role="assistant", content=content)
    return SimpleNamespace(model=model, choices=[SimpleNamespace(index=0, message=message)])


def chunk(content: str | None, finish_reason: str | None = None) -> SimpleNamespace:
    delta = SimpleNamespace(content=content)
    return SimpleNamespace(choices=[SimpleNamespace(index=0, delta=delta, finish_reason=finish_reason)])


def request(model: str, **headers: str) -> dict[str, Any]:
    return {"model": model, "proxy_server_request": {"headers": headers}}


@pytest.mark.parametrize(
    ("data", "folded"),
    [
        (request("dcot"), True),
        (request("dcot", **{"X-Semantic-Route-Reply": "raw"}), False),
        (request("phi2"), False),
    ],
    ids=["dcot", "client-asked-raw", "another-model"],
)
def test_a_whole_reply_is_folded_only_for_a_dcot_model_and_a_client_that_did_not_ask_raw(
    tmp_path: Path, data: dict, folded: bool
):
    hook = hook_with_dcot(tmp_path)
    response = asyncio.run(hook.async_post_call_success_hook(data, None, whole(data["model"], DCOT_REPLY)))
    assert response.choices[0].message.content == (fold(DCOT_REPLY) if folded else DCOT_REPLY)


def stream_of(text: str, size: int) -> list[SimpleNamespace]:
    chunks = [chunk(text[i : i + size]) for i in range(0, len(text), size)]
    return [*chunks, chunk(None, finish_reason="stop"), SimpleNamespace(choices=[])]


def streamed(hook: SemanticRouterHook, data: dict, chunks: list[Any]) -> list[Any]:
    async def run() -> list[Any]:
        async def source():
            for chunk in chunks:
                yield chunk

        return [c async for c in hook.async_post_call_streaming_iterator_hook(None, source(), data)]

    return asyncio.run(run())


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if not isinstance(c, bytes) and c.choices)


def test_a_streamed_dcot_reply_is_folded_in_order_with_the_status_line_first_and_nothing_lost(tmp_path: Path):
    hook = hook_with_dcot(tmp_path)
    data = request("dcot", **{"X-Semantic-Route-Notice": "open-webui"})
    data["metadata"] = {METADATA_KEY: Decision("dcot", "dcot", 3.1, Reason.ROUTE).to_metadata()}
    chunks = streamed(hook, data, stream_of(DCOT_REPLY, 4))
    assert isinstance(chunks[0], bytes), "the Answered by status line still comes first"
    assert json.loads(chunks[0].removeprefix(b"data: "))["event"]["data"]["description"] == "Answered by dcot"
    assert text_of(chunks[1:]) == fold(DCOT_REPLY)
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-1].choices == [], (
        "the finish and usage chunks keep their place at the end"
    )


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (request("dcot"), NOT_DCOT),
        (request("dcot", **{"x-semantic-route-reply": "raw"}), DCOT_REPLY),
        (request("doctor"), DCOT_REPLY),
    ],
    ids=["not-in-the-format", "client-asked-raw", "another-model"],
)
def test_a_stream_passes_unchanged_when_not_in_the_format_asked_raw_or_from_another_model(
    tmp_path: Path, data: dict, reply: str
):
    assert text_of(streamed(hook_with_dcot(tmp_path), data, stream_of(reply, 5))) == reply
