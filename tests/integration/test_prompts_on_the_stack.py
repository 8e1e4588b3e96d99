"""Each specialist asked the way it was trained, on the real stack: the prompt vLLM builds for a
request the proxy routes is the routed model's declared format (the routes file's `prompts`, which
the chart renders from each adapter's `prompt` values), and vLLM's own template for the others.

vLLM logs prompts only at DEBUG, so the prompt is proven by its size and text: vLLM's tokenizer
endpoint renders the declared format for the same conversation, and the routed request's
`usage.prompt_tokens` must equal that rendering's length (and differ from the other format's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from dmr_tools.processes import until
from dynamic_model_router.reply.dcot import fold
from dynamic_model_router.routes_file import load_routes
from support.prompts import GENERAL, MATHS, MEDICAL

# Written for this test: a format a new adapter could declare.
NOTE_TEMPLATE = "Patient's note: {{ messages[-1]['content'] }}\nClinician's reply:"


def tokens(vllm, model: str, messages: list[dict], template: str | None = None) -> list[int]:
    """The prompt vLLM builds from these messages for `model`, with `template` or its own."""
    body: dict = {"model": model, "messages": messages, "add_generation_prompt": True}
    if template is not None:
        body["chat_template"] = template
    root = vllm.api_base.removesuffix("/v1")
    response = httpx.post(f"{root}/tokenize", json=body, timeout=30)
    assert response.status_code == 200, f"vLLM's tokenizer refused the format: {response.text}"
    return response.json()["tokens"]


def text_of(vllm, model: str, ids: list[int]) -> str:
    root = vllm.api_base.removesuffix("/v1")
    return httpx.post(f"{root}/detokenize", json={"model": model, "tokens": ids}, timeout=30).json()["prompt"]


def prompt_tokens(api: openai.OpenAI, messages: list[dict], model: str = "auto") -> tuple[str | None, int]:
    raw = api.chat.completions.with_raw_response.create(model=model, messages=messages, max_tokens=2)
    usage = raw.parse().usage
    assert usage is not None
    return raw.headers.get("x-semantic-route"), usage.prompt_tokens


@pytest.mark.parametrize(
    ("text", "model"),
    [(MEDICAL, "doctor"), (MATHS, "dcot"), (GENERAL, "phi2")],
    ids=["doctor", "dcot", "phi2"],
)
def test_a_routed_request_reaches_vllm_in_the_routed_models_own_prompt_format(api, vllm, proxy, text, model):
    messages = [{"role": "user", "content": text}]
    declared = load_routes(proxy.routes_file).prompts.get(model)
    own = declared.chat_template if declared is not None else None
    expected = tokens(vllm, model, messages, own)
    routed, size = prompt_tokens(api, messages)
    assert routed == model, f"{text!r} was routed to {routed}, not {model}"
    assert size == len(expected), (
        f"vLLM built a prompt of {size} tokens for {model}; its declared format makes {len(expected)}:\n"
        f"{text_of(vllm, model, expected)!r}"
    )
    if model == "dcot":
        assert text_of(vllm, model, expected) == f"[Question] {text}\n[Number of answers] 2\n"
        assert len(tokens(vllm, model, messages)) != size, "dcot was asked in the base model's format"
    else:
        assert own is None and f"user\n{text}" in text_of(vllm, model, expected), (
            "the base model and doctor keep vLLM's own template"
        )


def test_a_client_naming_dcot_is_asked_dcots_way_too(api, vllm, proxy):
    messages = [{"role": "user", "content": MATHS}]
    template = load_routes(proxy.routes_file).prompts["dcot"].chat_template
    assert prompt_tokens(api, messages, model="dcot")[1] == len(tokens(vllm, "dcot", messages, template))


def test_an_earlier_dcot_reply_sent_back_folded_reaches_the_next_model_as_dcot_wrote_it(api, vllm):
    written = "[Answer 1] 14 x 6 = 84 loaves; 84 x 3 = 252.\n[Answer 2] 6 x 14 x 3 = 252.\n[Final answer] 252"
    conversation = [
        {"role": "user", "content": MATHS},
        {"role": "assistant", "content": fold(written)},
        {"role": "user", "content": GENERAL},
    ]
    as_written = [*conversation[:1], {"role": "assistant", "content": written}, *conversation[2:]]
    wanted, shown = len(tokens(vllm, "phi2", as_written)), len(tokens(vllm, "phi2", conversation))
    assert wanted != shown, "the test's reply must differ in size folded and unfolded"
    assert prompt_tokens(api, conversation, model="phi2")[1] == wanted, (
        "the base model was asked with the folded reply (HTML and labels) instead of the model's own text"
    )


@pytest.fixture
def routes_file(api, vllm, proxy) -> Iterator[Path]:
    yield proxy.routes_file
    proxy.routes_file.write_text(proxy.routes_text, encoding="utf-8")
    messages = [{"role": "user", "content": MEDICAL}]
    own = ("doctor", len(tokens(vllm, "doctor", messages)))
    until("doctor's format edit undone", lambda: prompt_tokens(api, messages) == own, detail=proxy.log.tail)


def test_a_format_declared_for_another_adapter_in_the_live_routes_shapes_its_next_requests(
    api, vllm, proxy, routes_file
):
    messages = [{"role": "user", "content": MEDICAL}]
    before = prompt_tokens(api, messages)
    routes = yaml.safe_load(routes_file.read_text(encoding="utf-8"))
    routes.setdefault("prompts", {})["doctor"] = {"chat_template": NOTE_TEMPLATE}
    routes_file.write_text(yaml.safe_dump(routes), encoding="utf-8")
    wanted = len(tokens(vllm, "doctor", messages, NOTE_TEMPLATE))
    assert wanted != before[1], "the test's format must differ in size from doctor's current one"
    until(
        "doctor's requests reach vLLM in the format just declared",
        lambda: prompt_tokens(api, messages) == ("doctor", wanted),
        detail=proxy.log.tail,
    )
