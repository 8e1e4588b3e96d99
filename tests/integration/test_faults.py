"""Faults of the local stack, and what clients and the operator see."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple
from urllib.parse import urlparse

import httpx
import pytest
import yaml
from litellm.constants import AIOHTTP_KEEPALIVE_TIMEOUT

from dmr_tools.processes import NotReady, until
from dmr_tools.stack.launcher import stop
from dynamic_model_router.encoding.encoder import MODEL_FILE, SHIPPED_ENCODER, TOKENIZER_FILES
from support.local_stack import current_ports, proxy_copy, stack_up
from support.prompts import BY_MODEL, MATHS, MEDICAL


class Outcome(NamedTuple):
    """One client request: when it was sent and ended, what it asked, and what came back."""

    sent: float
    ended: float
    text: str
    outcome: int | str
    route: str | None


def ask(proxy, text: str = MEDICAL, **extra) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.key}"},
        json={"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 16, **extra},
        timeout=60,
    )


def test_with_vllm_down_the_proxy_answers_503_and_recovers_by_itself_when_vllm_is_back(stack, proxy):
    run = stack.run
    proxy_pid = run.running("litellm").pid
    ports = current_ports(run)
    stop(run, "vllm")
    try:
        response = ask(proxy)
        assert response.status_code == 503, response.text
        assert "model server (vLLM) is unavailable" in response.json()["error"]["message"]
        assert response.headers.get("retry-after") == "10"
        assert "model server unreachable" in proxy.log.text(), "the operator's log does not say why"
    finally:
        restarted = stack_up(stack.run_dir, ports)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert ask(proxy).status_code == 200, "the proxy did not recover once vLLM was back"
    assert run.running("litellm").pid == proxy_pid, "recovery must not need a proxy restart"


def health_on(connection: socket.socket, host: str) -> bytes:
    """vLLM's answer to GET /health sent on an open connection (b"" once vLLM has closed it)."""
    connection.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        try:
            chunk = connection.recv(4096)
        except ConnectionResetError:
            return b""
        if not chunk:
            break
        answer += chunk
    return answer


def test_vllm_keeps_an_idle_connection_open_longer_than_the_proxy_reuses_one(vllm):
    # The proxy's pool reuses an idle connection for AIOHTTP_KEEPALIVE_TIMEOUT seconds, the
    # oldest first; a request sent on a connection vLLM is closing fails before vLLM reads it, and
    # the base model answers in the adapter's place. vLLM's own default closes it after 5 s.
    url = urlparse(vllm.api_base)
    assert url.hostname and url.port
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        assert b" 200 " in health_on(connection, url.hostname), "vLLM's /health did not answer"
        time.sleep(AIOHTTP_KEEPALIVE_TIMEOUT + 1)
        assert b" 200 " in health_on(connection, url.hostname), (
            f"vLLM closed a connection idle for {AIOHTTP_KEEPALIVE_TIMEOUT + 1} s, which the proxy "
            "may still reuse: its next request would fail and be answered by the base model"
        )


def test_a_route_whose_adapter_vllm_does_not_serve_is_answered_by_the_base_model_and_says_so(
    stack, proxy, vllm
):
    served = {m["id"]: m for m in httpx.get(f"{vllm.api_base}/models", timeout=30).json()["data"]}
    assert "dcot" in served, f"vLLM does not serve dcot to begin with: {sorted(served)}"
    unloaded = httpx.post(f"{vllm.api_base}/unload_lora_adapter", json={"lora_name": "dcot"}, timeout=30)
    assert unloaded.status_code == 200, unloaded.text
    try:
        log_offset, vllm_offset = len(proxy.log.text()), len(vllm.log.text())
        for stream in (False, True):
            response = ask(proxy, MATHS, stream=stream)
            assert response.status_code == 200, response.text
            assert response.headers["x-semantic-route"] == "phi2", dict(response.headers)
            assert response.headers["x-semantic-route-reason"] == "unavailable"
            assert response.headers["x-semantic-route-unavailable"] == "dcot"
        assert [model for _, model in vllm.served(since=vllm_offset)] == ["phi2", "phi2"], (
            "the base model did not answer both requests"
        )
        warnings = [
            line for line in proxy.log.text()[log_offset:].splitlines() if "route_unavailable" in line
        ]
        assert len(warnings) == 2 and '"model": "dcot"' in warnings[0] and "phi2" in warnings[0], warnings
    finally:
        loaded = httpx.post(
            f"{vllm.api_base}/load_lora_adapter",
            json={"lora_name": "dcot", "lora_path": served["dcot"]["root"]},
            timeout=60,
        )
        assert loaded.status_code == 200, loaded.text
    # LiteLLM rests a failed model for its cooldown (5 s by default) before trying it again.
    until(
        "dcot used again after vLLM serves it again",
        lambda: ask(proxy, MATHS).headers["x-semantic-route"] == "dcot",
        timeout_s=30,
        interval_s=1,
    )


def encoder_folder(folder: Path, model: bytes | None) -> Path:
    folder.mkdir()
    for name in TOKENIZER_FILES:
        shutil.copy(SHIPPED_ENCODER / name, folder / name)
    if model is not None:
        (folder / MODEL_FILE).write_bytes(model)
    return folder


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("missing", f"missing {MODEL_FILE}"),
        ("corrupt", "cannot load sentence-transformers/all-MiniLM-L6-v2"),
        ("wrong-sha256", "the file is damaged or not the pinned model"),
    ],
)
def test_a_missing_or_damaged_encoder_keeps_the_proxy_from_becoming_ready_and_its_log_says_why(
    stack, proxy, tmp_path: Path, damage: str, expected: str
):
    shipped = (SHIPPED_ENCODER / MODEL_FILE).read_bytes()
    routes = yaml.safe_load(proxy.routes_text)
    if damage == "missing":
        routes["encoder"]["path"] = str(encoder_folder(tmp_path / "encoder", None))
    elif damage == "corrupt":
        routes["encoder"]["path"] = str(encoder_folder(tmp_path / "encoder", shipped[: len(shipped) // 2]))
    else:
        routes["encoder"]["path"] = str(encoder_folder(tmp_path / "encoder", shipped[:-1] + b"\0"))
        routes["encoder"]["sha256"] = hashlib.sha256(shipped).hexdigest()
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(yaml.safe_dump(routes), encoding="utf-8")
    server, port = proxy_copy(stack, routes_file, tmp_path / "litellm.log")
    try:
        with pytest.raises(NotReady, match="exited before it was ready"):
            server.wait_ready(f"http://127.0.0.1:{port}/health/readiness", timeout_s=120)
    finally:
        server.stop()
    assert server.returncode != 0
    [reason] = [line for line in server.log_text().splitlines() if "semantic router cannot start" in line]
    assert expected in reason, reason


def test_a_proxy_started_with_routes_to_a_model_it_does_not_serve_answers_with_the_base_model_and_logs_it(
    stack, proxy, tmp_path: Path
):
    # A pod restarted after an edit its reload refused starts with that file: nothing to keep.
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(proxy.routes_text.replace("model: doctor\n", "model: docter\n"), encoding="utf-8")
    server, port = proxy_copy(stack, routes_file, tmp_path / "litellm.log")
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/health/readiness", timeout_s=180)
        response = ask(SimpleNamespace(url=f"http://127.0.0.1:{port}", key=proxy.key))
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    assert response.headers["x-semantic-route"] == "phi2", dict(response.headers)
    assert response.headers["x-semantic-route-reason"] == "error"
    [line] = [line for line in server.log_text().splitlines() if "route_model_not_served" in line]
    assert '"model": "docter"' in line and "this proxy serves auto, dcot, doctor, phi2" in line, line


def test_a_body_limit_that_is_no_size_keeps_the_proxy_from_becoming_ready_and_its_log_says_why(
    stack, proxy, tmp_path: Path
):
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(proxy.routes_text, encoding="utf-8")
    server, port = proxy_copy(stack, routes_file, tmp_path / "litellm.log", MAX_REQUEST_BODY_MB="8MB")
    try:
        with pytest.raises(NotReady, match="exited before it was ready"):
            server.wait_ready(f"http://127.0.0.1:{port}/health/readiness", timeout_s=120)
    finally:
        server.stop()
    [reason] = [line for line in server.log_text().splitlines() if "will not become ready" in line]
    assert "MAX_REQUEST_BODY_MB must be a number of megabytes above 0, got '8MB'" in reason, reason


def test_a_proxy_restarted_under_load_fails_requests_only_while_it_is_down(stack, proxy):
    run = stack.run
    ports = current_ports(run)
    # Each sample prompt's own route (support/prompts.py), not what the router under test says.
    expected = {text: model for model, text in BY_MODEL.items()}
    texts = list(expected)
    # Each request on a new connection, like a new client.
    outcomes: list[Outcome] = []
    done = threading.Event()
    log_from = len(proxy.log.text())

    def client(offset: int) -> None:
        for n in range(offset, 10**6):
            if done.is_set():
                return
            text, sent = texts[n % len(texts)], time.monotonic()
            try:
                response = ask(proxy, text)
                outcomes.append(
                    Outcome(
                        sent,
                        time.monotonic(),
                        text,
                        response.status_code,
                        response.headers.get("x-semantic-route"),
                    )
                )
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as e:
                # Refused, or reset: a connection the kernel took as the proxy closed its socket is
                # reset unread. Whether such a request had been started is told by the log below.
                kind = "refused" if isinstance(e, httpx.ConnectError) else "reset"
                outcomes.append(Outcome(sent, time.monotonic(), text, kind, None))
                time.sleep(0.2)  # a client backing off before it tries again
            except httpx.HTTPError as e:  # a timeout, or anything else: something went wrong
                outcomes.append(Outcome(sent, time.monotonic(), text, type(e).__name__, None))

    def answered(since: float = 0.0) -> bool:
        return any(o.outcome == 200 and o.sent > since for o in list(outcomes))

    with ThreadPoolExecutor(4) as pool:
        clients = [pool.submit(client, i) for i in range(4)]
        try:
            # Stopped once requests are being answered, and run on until one sent after the restart
            # is answered too (waiting on answers, not on a clock: a busy machine slows the first).
            until("a request answered before the stop", answered, timeout_s=120)
            down_at = time.monotonic()
            stop(run, "litellm")
            restarted = stack_up(stack.run_dir, ports)
            back_at = time.monotonic()
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            until("a request sent after the restart answered", lambda: answered(back_at), timeout_s=120)
        finally:
            done.set()
        for finished in clients:
            finished.result()
    failed = [o for o in outcomes if o.outcome != 200]
    assert failed, "no request was refused: the proxy was never down during the run"
    assert {o.outcome for o in failed} <= {"refused", "reset"}, (
        f"clients saw more than closed connections: {failed}"
    )
    answered = [o for o in outcomes if o.outcome == 200]
    # Every request the proxy began (its routing decision is logged first) was answered: the stop
    # drained requests under way instead of cutting them.
    decided = proxy.log.text()[log_from:].count('"event": "route_decision"')
    assert decided == len(answered), (
        f"the proxies decided {decided} requests but answered {len(answered)}: some were cut while "
        f"under way ({failed})"
    )
    # A busy machine can hold a client between taking its start time and connecting, so a refused
    # request only has to have been under way at some moment while the proxy was down.
    while_up = [o for o in failed if o.ended < down_at or o.sent > back_at]
    assert not while_up, (
        f"requests failed while the proxy was up (down {down_at:.2f} to {back_at:.2f}): {while_up}"
    )
    assert any(o.ended < down_at for o in answered) and any(o.sent > back_at for o in answered), outcomes
    misrouted = [o for o in answered if o.route != expected[o.text]]
    assert not misrouted, f"answers routed elsewhere than the router decides: {misrouted}"
