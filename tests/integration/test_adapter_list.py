"""The adapter list decides, also for removal: an install whose values leave the `dcot` adapter out
renders a proxy config and routes that the real proxy serves, and the chart's own `helm test`
script passes against that proxy (with the real vLLM behind it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from dmr_tools.chart import chart_file, env_of, find, render
from support.local_stack import proxy_copy

VALUES = "doctor-only.yaml"


def test_an_install_without_dcot_serves_and_passes_its_helm_test(stack, proxy, tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(
        chart_file("litellm/litellm-config-configmap.yaml", "config.yaml", VALUES), encoding="utf-8"
    )
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        chart_file("litellm/litellm-routes-configmap.yaml", "routes.yaml", VALUES), encoding="utf-8"
    )
    assert "dcot" not in {r["model"] for r in yaml.safe_load(routes.read_text())["routes"]}
    # This install has no runtime adapters (the stack's proxy does).
    server, port = proxy_copy(stack, routes, tmp_path / "litellm.log", config=config, RUNTIME_ADAPTERS_DIR="")
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/health/readiness", timeout_s=180)
        [container] = find(render(VALUES), "Pod", "-test-routing")["spec"]["containers"]
        env = {name: e.get("value", "") for name, e in env_of(container).items()}
        env.update(URL=f"http://127.0.0.1:{port}/v1/chat/completions", KEY=proxy.key)
        done = subprocess.run(
            [sys.executable, "-c", container["args"][0]],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"helm test failed:\n{done.stdout}{done.stderr}\n{server.tail()}"
        for route, model in (("doctor", "doctor"), ("general", "phi2")):
            assert f"route {route}: routed to {model}, expected {model}" in done.stdout, done.stdout
        assert "route dcot" not in done.stdout, "helm test checked a route the install does not have"
    finally:
        server.stop()
