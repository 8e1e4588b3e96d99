"""The local stack (`make up` / `make down`): it runs what the chart renders, changing only the
documented swaps; re-running it is safe; a busy port gets a clear message; `down` leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import pytest
import yaml

from dmr_tools.chart import render
from dmr_tools.processes import answers_ok, command_line, live_members, port_free
from dmr_tools.stack import pods
from dmr_tools.stack.rendering import LOCAL_MODEL_CACHE, LOCAL_MODEL_VALUES, NAMESPACE
from dmr_tools.stack.run_dir import COMPONENTS, RunDir
from support.local_stack import TEST_VALUES, port_flags, stack_command, stack_up

ENV_KEYS = {
    "OPEN_WEBUI_URL",
    "LITELLM_URL",
    "LITELLM_MASTER_KEY",
    "VLLM_URL",
    "OPEN_WEBUI_ADMIN_EMAIL",
    "OPEN_WEBUI_ADMIN_PASSWORD",
    "ROUTES_FILE",
}


def records(run_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in RunDir(run_dir).pids.glob("*.json")}


def stack_objects() -> list[dict]:
    """The chart as the tests' stack renders it: make up's values and TEST_VALUES."""
    return render(str(LOCAL_MODEL_VALUES), *map(str, TEST_VALUES), namespace=NAMESPACE, monitoring=True)


def rendered(kind: str, component: str) -> dict:
    return pods.find(stack_objects(), kind, component)


def test_up_prints_and_writes_everything_a_person_or_script_needs(stack):
    assert set(stack.env) == ENV_KEYS, f".run/env has {sorted(stack.env)}"
    for key in ENV_KEYS - {"OPEN_WEBUI_ADMIN_EMAIL"}:
        assert stack.env[key] in stack.output, f"make up did not print {key}"
    assert "make decisions" in stack.output and "make down" in stack.output
    assert oct(RunDir(stack.run_dir).env_file.stat().st_mode & 0o777) == "0o600", "env holds secrets"


def test_vllm_runs_the_serving_runtime_arguments_with_only_the_documented_swaps(stack):
    container = rendered("ServingRuntime", "vllm")["spec"]["containers"][0]
    running = command_line(records(stack.run_dir)["vllm"]["pid"])
    assert running[1:3] == container["command"][1:], f"not vLLM's entrypoint: {running[:3]}"
    swapped = {"--port=8080", "--gpu-memory-utilization=0.9"}
    model_dir = str(LOCAL_MODEL_CACHE)
    for arg in container["args"]:
        if arg in swapped:
            continue
        local = arg.replace("/mnt/models", model_dir).replace(
            "/etc/vllm/chat-template", str(RunDir(stack.run_dir).component("vllm") / "chat-template")
        )
        assert local in running, f"chart argument {arg!r} is missing from vLLM's command line {running}"
    assert "--host=127.0.0.1" in running and "--kv-cache-memory-bytes=268435456" in running


def test_litellm_runs_the_config_and_routes_the_chart_renders(stack):
    objects = stack_objects()
    pod = pods.find(objects, "Deployment", "litellm")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    folder = RunDir(stack.run_dir).component("litellm")
    for name in ("config", "routes"):
        data = pods.configmap_data(objects, volumes[name]["configMap"]["name"])
        for key, text in data.items():
            # Tests that edit the live routes put the chart's text back when they are done.
            assert (folder / name / key).read_text() == text, f"{name}/{key} differs from the chart's"
    assert yaml.safe_load((folder / "routes" / "routes.yaml").read_text())["virtual_model"] == "auto"
    running = command_line(records(stack.run_dir)["litellm"]["pid"])
    assert running[-4:-2] == ["--config", str(folder / "config" / "config.yaml")], running


def test_rerunning_up_while_the_stack_runs_starts_nothing_new(stack):
    before = records(stack.run_dir)
    ports = {name: record["port"] for name, record in before.items()}
    result = stack_up(stack.run_dir, port_flags(ports), timeout_s=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in COMPONENTS:
        assert f"{name}: already running (pid {before[name]['pid']})" in result.stdout, result.stdout
    assert records(stack.run_dir) == before, "a component was restarted"


def test_up_starts_again_a_part_whose_process_runs_but_does_not_answer(stack):
    before = records(stack.run_dir)
    ports = {name: record["port"] for name, record in before.items()}
    # Frozen: its process lives on but nothing answers on its port, like a vLLM shutting down.
    os.killpg(before["vllm"]["pid"], signal.SIGSTOP)
    result = stack_up(stack.run_dir, port_flags(ports), timeout_s=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "vllm: already running" not in result.stdout, "up trusted a live process that does not answer"
    assert f"vllm: its process (pid {before['vllm']['pid']}) does not answer" in result.stdout, result.stdout
    after = records(stack.run_dir)
    assert after["vllm"]["pid"] != before["vllm"]["pid"], "vLLM was not started again"
    assert answers_ok(f"{stack.env['VLLM_URL']}/health"), "vLLM does not answer after up"
    assert {n: after[n] for n in ("litellm", "open-webui")} == {
        n: before[n] for n in ("litellm", "open-webui")
    }


def test_up_refuses_a_port_in_use_and_says_which_and_how_to_change_it(stack, tmp_path: Path):
    ports = port_flags()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports[ports.index("--litellm-port") + 1] = str(port)
        result = stack_command(tmp_path, "up", *ports)
    assert result.returncode == 1
    assert f"port {port} (litellm) is already in use" in result.stderr, result.stderr
    assert "PROXY_PORT=" in result.stderr
    assert not RunDir(tmp_path).pids.exists(), "something was started despite the busy port"


@pytest.mark.last
def test_down_stops_every_process_of_the_stack_and_frees_its_ports(stack):
    recorded = records(stack.run_dir)
    assert set(recorded) == set(COMPONENTS), recorded
    groups = {r["pid"] for r in recorded.values()}
    members = [pid for group in groups for pid in live_members(group)]
    assert len(members) > len(groups), "expected the servers' worker processes in their groups"

    result = stack_command(stack.run_dir, "down")
    assert result.returncode == 0, result.stderr
    assert "stopped: open-webui, litellm, vllm" in result.stdout, result.stdout
    left = [pid for group in groups for pid in live_members(group)]
    assert not left, f"processes of the stack still run after down: {left}"
    busy = [r["port"] for r in recorded.values() if not port_free(r["port"])]
    assert not busy, f"ports still in use after down: {busy}"
    assert not (stack.run_dir / "env").exists(), ".run/env must go with the stack"
