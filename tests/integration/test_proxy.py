"""The real LiteLLM proxy with the project's config and hook, in front of a real vLLM
serving SmolLM2 with real LoRA adapters, all as `make up` starts them. vLLM's own request log proves which
model actually served each request."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dmr_tools.processes import until
from support.prompts import GENERAL, MATHS, MEDICAL, user


def chat(api: openai.OpenAI, model: str, text: str):
    raw = api.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], max_tokens=4
    )
    return raw.headers, raw.parse()


def served_by_vllm(vllm, response_id: str, timeout_s: float = 10) -> str:
    """The model vLLM served a request with, from vLLM's request log (LoRA name or base)."""
    request_id = response_id.removeprefix("chatcmpl-")
    return until(
        f"vLLM logged request {response_id}",
        lambda: next((model for line, model in vllm.served() if request_id in line), None),
        timeout_s,
        interval_s=0.2,
        detail=vllm.log.tail,
    )


def test_models_endpoint_lists_the_virtual_base_and_adapter_models(api):
    ids = {m.id for m in api.models.list()}
    assert {"auto", "phi2", "doctor", "dcot"} <= ids, ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [(MEDICAL, "doctor"), (MATHS, "dcot"), (GENERAL, "phi2")],
    ids=["doctor", "dcot", "phi2"],
)
def test_auto_requests_reach_vllm_as_the_routed_model(api, vllm, text: str, expected: str):
    headers, completion = chat(api, "auto", text)
    assert headers.get("x-semantic-route") == expected, dict(headers)
    assert completion.model == expected, (
        f"the response names {completion.model!r}, not the model that answered"
    )
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert served_by_vllm(vllm, completion.id) == expected


def test_explicit_adapter_requests_are_not_rerouted(api, vllm):
    headers, completion = chat(api, "doctor", GENERAL)
    assert "x-semantic-route" not in headers, "an explicit model was routed"
    assert served_by_vllm(vllm, completion.id) == "doctor"


def test_streaming_auto_requests_are_routed_and_stream_chunks(api, vllm):
    with api.chat.completions.with_streaming_response.create(
        model="auto", messages=[{"role": "user", "content": MATHS}], max_tokens=4, stream=True
    ) as response:
        assert response.headers.get("x-semantic-route") == "dcot", dict(response.headers)
        chunks = list(response.parse())
    assert len(chunks) >= 2, chunks
    assert {chunk.model for chunk in chunks} == {"dcot"}, "streamed chunks must name the model that answered"
    assert served_by_vllm(vllm, chunks[0].id) == "dcot"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-wrong"}], ids=["no-key", "wrong-key"])
def test_requests_without_the_master_key_get_401(proxy, headers: dict):
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    for method, path, payload in [("GET", "/v1/models", None), ("POST", "/v1/chat/completions", body)]:
        response = httpx.request(method, f"{proxy.url}{path}", headers=headers, json=payload, timeout=30)
        assert response.status_code == 401, f"{method} {path}: {response.status_code} {response.text}"


# In every bad request below: whatever goes wrong, the user's words must not reach the proxy log.
CANARY = "Quillon-4471"


KNEE = f"My knee hurts, {CANARY}"


def post(proxy, body: dict | bytes | Iterator[bytes], path: str = "/v1/chat/completions") -> httpx.Response:
    """POST a JSON object, or raw bytes as they are, or chunks sent chunked, with the master key."""
    raw = None if isinstance(body, dict) else body
    return httpx.post(
        f"{proxy.url}{path}",
        headers={"Authorization": f"Bearer {proxy.key}", "Content-Type": "application/json"},
        content=raw,
        json=None if raw is not None else body,
        timeout=120,
    )


def wait_served(vllm, since: int, timeout_s: float = 10) -> list[str]:
    """The models vLLM served since character `since` of its log, once it logged any."""
    return until(
        "vLLM served a request",
        lambda: [model for _, model in vllm.served(since=since)],
        timeout_s,
        interval_s=0.2,
        detail=vllm.log.tail,
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", {"prompt": MEDICAL, "max_tokens": 4}),
        ("/v1/responses", {"input": MEDICAL, "max_output_tokens": 16}),
        (
            "/v1/responses",
            {
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": MEDICAL}]}
                ],
                "max_output_tokens": 16,
            },
        ),
        ("/v1/messages", {"messages": [{"role": "user", "content": MEDICAL}], "max_tokens": 4}),
    ],
    ids=["completions-prompt", "responses-string", "responses-message-items", "anthropic-messages"],
)
def test_auto_requests_through_the_completions_responses_and_messages_apis_are_routed_like_chats(
    proxy, vllm, path: str, body: dict
):
    offset = len(vllm.log.text())
    response = post(proxy, {"model": "auto", **body}, path)
    assert response.status_code == 200, response.text
    assert response.headers.get("x-semantic-route") == "doctor", dict(response.headers)
    assert wait_served(vllm, offset) == ["doctor"], f"vLLM log tail:\n{vllm.log.tail()}"


def test_embedding_requests_get_a_400_saying_there_is_no_embedding_model(api, proxy, vllm):
    offset = len(vllm.log.text())
    response = post(proxy, {"model": "auto", "input": MEDICAL}, "/v1/embeddings")
    assert response.status_code == 400, response.text
    assert "no embedding model" in response.json()["error"]["message"], response.text
    served = next_chat_reaches_vllm(api, vllm, offset)
    assert served == ["doctor"], f"the embedding request reached vLLM: it served {served}"


def test_a_call_vllm_answers_not_found_does_not_turn_away_the_next_clients_of_that_model(proxy):
    # An unknown previous_response_id is one client's mistake; vLLM answers 404 for it.
    mistaken = post(
        proxy,
        {
            "model": "phi2",
            "input": "and then?",
            "previous_response_id": "resp_unknown",
            "max_output_tokens": 16,
        },
        "/v1/responses",
    )
    assert mistaken.status_code in (400, 404), mistaken.text
    assert "not found" in mistaken.text
    # Straight after, without client retries (the OpenAI client would retry a 429 and hide it).
    for body in (
        {"model": "phi2", "messages": user(GENERAL)},
        {"model": "auto", "messages": user(GENERAL)},
    ):
        answer = post(proxy, {**body, "max_tokens": 4})
        assert answer.status_code == 200, f"{body['model']} after another client's 404: {answer.text[:300]}"


def refused(
    api,
    proxy,
    vllm,
    body,
    status: int,
    expected: str,
    checked_by_vllm: bool = False,
    path: str = "/v1/chat/completions",
) -> None:
    """Send a request the proxy must refuse with `status` and `expected` in the error message: the
    user's words stay out of the log, the next chat is routed as usual, and nothing reaches vLLM
    unless the refusal is vLLM's own (`checked_by_vllm`: limits only the model knows)."""
    offset = len(vllm.log.text())
    response = post(proxy, body, path)
    assert response.status_code == status, f"{response.status_code} {response.text[:500]}"
    assert expected in response.json()["error"]["message"], response.text[:500]
    assert CANARY not in proxy.log.text(), "the proxy logged the user's words"
    served = next_chat_reaches_vllm(api, vllm, offset)
    if not checked_by_vllm:
        assert served == ["doctor"], f"a refused request reached vLLM: it served {served}"


def next_chat_reaches_vllm(api, vllm, offset: int) -> list[str]:
    """Send a medical chat to `auto`: it must be routed to doctor and show in vLLM's log (the
    positive control: the log shows requests). Returns the models vLLM served since `offset`, the
    chat's last: anything before it reached vLLM before the chat did."""
    headers, completion = chat(api, "auto", MEDICAL)
    assert headers.get("x-semantic-route") == "doctor", "the proxy stopped routing as before"
    assert served_by_vllm(vllm, completion.id) == "doctor"
    return [model for _, model in vllm.served(since=offset)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"model": "auto", "messages": [{"role": "user", "content": "' + CANARY.encode(),
            "Invalid JSON payload",
        ),
        (
            b'{"model": "auto", "messages": [{"role": "user", "content": "caf\xe9 '
            + CANARY.encode()
            + b'"}]}',
            "the request body must be a UTF-8 encoded JSON object",
        ),
        ({"model": "auto"}, "missing required field 'messages'"),
        ({"model": "auto", "messages": CANARY}, "'messages' must be a non-empty list"),
        (
            {"model": "auto", "messages": [{"role": CANARY, "content": "hi"}]},
            "messages[0].role must be one of",
        ),
        ({"model": "doctor", "messages": [{"role": "user", "content": 42}]}, "messages[0].content must be"),
        (
            {
                "model": "auto",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": CANARY}}]}
                ],
            },
            "is a 'image_url' part; these models read text only",
        ),
        ({"model": "auto", "messages": user(KNEE), "stream": "yes"}, "'stream' must be true or false"),
        (
            {"model": "auto", "messages": user(KNEE), "max_tokens": "ten"},
            "'max_tokens' must be a whole number",
        ),
        ({"model": "auto", "messages": user(KNEE), "temperature": [1]}, "'temperature' must be a number"),
    ],
    ids=[
        "malformed-json",
        "not-utf-8",
        "no-messages",
        "messages-not-a-list",
        "unknown-role",
        "content-not-text",
        "image-part",
        "stream-not-a-boolean",
        "max-tokens-not-a-number",
        "temperature-not-a-number",
    ],
)
def test_malformed_chat_requests_get_a_400_naming_the_problem_and_the_proxy_keeps_serving(
    api, proxy, vllm, body: dict | bytes, expected: str
):
    refused(api, proxy, vllm, body, 400, expected)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            "/v1/completions",
            {"prompt": None, "max_tokens": 4},
            "'prompt' must be a string or a list of strings, got null",
        ),
        ("/v1/completions", {"prompt": [], "max_tokens": 4}, "a non-empty list of strings"),
        ("/v1/completions", {"prompt": [101, 2026], "max_tokens": 4}, "token ids are not accepted"),
        ("/v1/completions", {"prompt": [KNEE, "what is 17 * 23?"], "max_tokens": 4}, "a batch of 2 prompts"),
        ("/v1/messages", {"messages": [], "max_tokens": 4}, "'messages' must not be an empty list"),
        ("/v1/responses", {"input": [], "max_output_tokens": 16}, "'input' must not be an empty list"),
    ],
    ids=["null-prompt", "empty-prompt-list", "token-ids", "batch-of-two", "no-messages", "no-input"],
)
def test_a_request_of_the_other_apis_without_words_to_route_gets_a_400_naming_the_field(
    api, proxy, vllm, path: str, body: dict, expected: str
):
    # Unchecked, LiteLLM answered the prompts but the batch, and the empty messages, with a 500; the
    # batch went to one model, chosen on all its prompts; vLLM refused the empty input itself.
    refused(api, proxy, vllm, {"model": "auto", **body}, 400, expected, path=path)


# Each public advisory against vLLM's OpenAI server that a request can trigger (docs/operations.md,
# "The edge"), in its trigger's shape, through the real proxy: refused before vLLM sees it.
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"chat_template": "{{ 7*7 }}"}, "field 'chat_template' is not accepted"),
        ({"chat_template_kwargs": {"enable_thinking": True}}, "field 'chat_template_kwargs' is not accepted"),
        ({"n": 50}, "'n' must be from 1 to 1"),
        ({"temperature": float("nan")}, "'temperature' must be a finite number"),
        ({"temperature": float("inf")}, "'temperature' must be a finite number"),
        ({"guided_regex": "(a+)+$"}, "field 'guided_regex' is not accepted"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {"pattern": "(a+)+$"}},
                }
            },
            "structured output (json_schema) is off",
        ),
        ({"model": "phi2", "chat_template": "{{ 7*7 }}"}, "field 'chat_template' is not accepted"),
        ({"max_tokens": -3}, "'max_tokens' must be 1 or more"),
    ],
    ids=[
        "chat-template",
        "template-kwargs",
        "unbounded-n",
        "nan",
        "infinity",
        "guided-regex",
        "json-schema",
        "phi2",
        "negative-max-tokens",
    ],
)
def test_each_advisory_trigger_is_refused_with_a_400_before_vllm_sees_it(
    api, proxy, vllm, extra: dict, expected: str
):
    body = {"model": "auto", "messages": user(KNEE), "max_tokens": 4, **extra}
    # As written by hand: Python's json writes NaN and Infinity, which LiteLLM reads.
    refused(api, proxy, vllm, json.dumps(body).encode(), 400, expected)


def test_a_huge_header_is_refused_by_the_proxys_server_and_the_proxy_keeps_serving(api, proxy, vllm):
    offset = len(vllm.log.text())
    try:
        response = httpx.post(
            f"{proxy.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {proxy.key}", "X-Padding": "a" * 1024 * 1024},
            json={"model": "auto", "messages": user(KNEE), "max_tokens": 4},
            timeout=60,
        )
    except httpx.ReadError as reset:
        # h11 answers 400 and closes once the head passes its limit; a client still sending its
        # headers then sees the connection reset instead of the answer.
        assert "reset" in str(reset).lower() or "104" in str(reset), reset
    else:
        assert 400 <= response.status_code < 500, f"{response.status_code} {response.text[:300]}"
    served = next_chat_reaches_vllm(api, vllm, offset)
    assert served == ["doctor"], f"the request with a huge header reached vLLM: it served {served}"


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[1, 2]", "a list"), (b'"' + CANARY.encode() + b'"', "a string"), (b"42", "a number")],
    ids=["list", "string", "number"],
)
def test_a_json_body_that_is_not_an_object_gets_a_400_saying_so_and_the_proxy_keeps_serving(
    api, proxy, vllm, body: bytes, kind: str
):
    refused(api, proxy, vllm, body, 400, f"the request body must be a JSON object, got {kind}")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"model": "auto", "messages": user(KNEE) * 5000, "max_tokens": 4}, "maximum context length"),
        (
            {"model": "auto", "messages": user(f"{CANARY} " * 400_000), "max_tokens": 4},
            "maximum context length",
        ),
        (
            {"model": "auto", "messages": user(KNEE), "max_tokens": 10**9},
            "max_tokens=1000000000 cannot be greater",
        ),
    ],
    ids=["5000-messages", "5-MB-message", "absurd-max-tokens"],
)
def test_requests_beyond_the_models_limits_get_a_400_naming_the_limit_and_the_proxy_keeps_serving(
    api, proxy, vllm, body: dict, expected: str
):
    refused(api, proxy, vllm, body, 400, expected, checked_by_vllm=True)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_size_limit_gets_a_413_before_it_is_read_and_the_proxy_keeps_serving(
    api, proxy, vllm, chunked: bool
):
    body = json.dumps({"model": "auto", "messages": user(f"{CANARY} " * 2_000_000)}).encode()
    assert len(body) > 8 * 1024 * 1024
    # A generator is sent chunked, without a Content-Length.
    content = (body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20)) if chunked else body
    refused(api, proxy, vllm, content, 413, "over this proxy's limit of 8 MB (MAX_REQUEST_BODY_MB")


def test_proxy_log_records_decisions_but_never_the_prompt(api, proxy):
    canary = "Zanthoria-7731"
    offset = len(proxy.log.text())
    chat(api, "auto", f"My name is {canary} and I get migraines with flashing lights, what helps?")
    log = proxy.log.text()
    assert '"event": "route_decision"' in log[offset:], "this chat left no structured decision line"
    for secret in (canary, "migraines with flashing lights", proxy.key):
        assert secret not in log, f"{secret!r} leaked into the proxy log"


def doctor_decisions(proxy) -> tuple[float, str]:
    """The proxy's count of doctor decisions at /metrics/, and the whole page."""
    response = httpx.get(
        f"{proxy.url}/metrics/", headers={"Authorization": f"Bearer {proxy.key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    decided = [
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "semantic_router_decisions_total"
        and sample.labels == {"route": "doctor", "model": "doctor", "reason": "route"}
    ]
    assert decided, "no doctor decision series at /metrics"
    return decided[0], response.text


def test_metrics_endpoint_counts_routing_decisions_and_latency(api, proxy):
    assert httpx.get(f"{proxy.url}/metrics", timeout=30).status_code == 401, "metrics served without a key"
    before, _ = doctor_decisions(proxy)
    chat(api, "auto", MEDICAL)
    after, page = doctor_decisions(proxy)
    assert after == before + 1, f"one doctor chat moved the count from {before} to {after}"
    assert "semantic_router_decision_seconds_bucket" in page
