"""The Open WebUI part of the chart: wired to LiteLLM with `auto` as the default model."""

from __future__ import annotations

import json
import re

import yaml

from dmr_tools.chart import chart_file, env_of, find, render
from dmr_tools.paths import BACKEND
from dynamic_model_router.observe.client_notice import NOTICE_CLIENT, NOTICE_HEADER


def webui_env(objects: list[dict]) -> dict[str, dict]:
    return env_of(find(objects, "Deployment", "-open-webui")["spec"]["template"]["spec"]["containers"][0])


def test_open_webui_talks_to_litellm_with_the_master_key_and_defaults_to_auto():
    objects = render()
    env = webui_env(objects)
    litellm = find(objects, "Service", "-litellm")["metadata"]["name"]
    assert env["OPENAI_API_BASE_URLS"]["value"] == f"http://{litellm}:4000/v1"
    assert env["OPENAI_API_KEYS"]["valueFrom"]["secretKeyRef"]["key"] == "master-key"
    assert env["DEFAULT_MODELS"]["value"] == "auto"
    assert env["ENABLE_OLLAMA_API"]["value"] == "false"
    assert env["WEBUI_AUTH"]["value"] == "true"
    assert env["WEBUI_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "secret-key"


def test_chats_live_on_a_persistent_volume():
    objects = render()
    pvc = find(objects, "PersistentVolumeClaim")
    volumes = find(objects, "Deployment", "-open-webui")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}} in volumes


def test_route_has_edge_tls_to_the_open_webui_service():
    objects = render()
    route = find(objects, "Route")
    assert route["spec"]["to"]["name"] == find(objects, "Service", "-open-webui")["metadata"]["name"]
    assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}


def test_open_webui_can_be_left_out():
    objects = render(sets=("openWebui.enabled=false",))
    assert not [o for o in objects if "open-webui" in o["metadata"]["name"]]


def test_open_webui_sends_no_tools_the_models_cannot_use():
    env = webui_env(render())
    assert json.loads(env["DEFAULT_MODEL_METADATA"]["value"]) == {"capabilities": {"builtin_tools": False}}
    assert env["TASK_MODEL_EXTERNAL"]["value"] == "phi2", "titles and tags should not be routed"


def test_chart_deploys_the_open_webui_release_the_end_to_end_test_runs():
    tested = re.search(r"^open-webui==(\S+)$", (BACKEND / "requirements-webui.txt").read_text(), re.M)
    assert tested, "requirements-webui.txt does not pin open-webui"
    image = find(render(), "Deployment", "-open-webui")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f":v{tested.group(1)}"), f"chart deploys {image}, tests run {tested.group(1)}"


def test_open_webui_asks_the_router_for_the_answered_by_status_line():
    configs = json.loads(webui_env(render())["OPENAI_API_CONFIGS"]["value"])
    headers = {k.lower(): v for k, v in configs["0"]["headers"].items()}
    assert headers.get(NOTICE_HEADER) == NOTICE_CLIENT, configs


def test_the_first_screen_suggests_each_routes_example_and_skips_the_release_notes():
    env = webui_env(render("three-adapters.yaml"))
    suggestions = json.loads(env["DEFAULT_PROMPT_SUGGESTIONS"]["value"])
    routes = yaml.safe_load(
        chart_file("litellm/litellm-routes-configmap.yaml", "routes.yaml", "three-adapters.yaml")
    )
    expected = [(r["utterances"][0], r["model"]) for r in routes["routes"]]
    assert [(s["content"], s["title"][1].split()[2].rstrip(",")) for s in suggestions] == expected
    assert all(s["title"][0] == s["content"] for s in suggestions), suggestions
    assert "sql" in {model for _, model in expected}, "an adapter added in values gets its suggestion too"
    assert json.loads(env["DEFAULT_INTERFACE_SETTINGS"]["value"]) == {"showChangelog": False}
