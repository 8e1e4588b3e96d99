"""The LiteLLM part of the chart: proxy config, routes and plugin derived from the adapters."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from dmr_tools.chart import chart_file, env_of, find, render, render_error
from dmr_tools.paths import ROUTER
from dynamic_model_router.observe.client_notice import ROUTE_HEADER
from dynamic_model_router.request.fields import Limits
from dynamic_model_router.routes_file import load_routes, parse_routes


def proxy_config(*values: str) -> dict:
    return yaml.safe_load(chart_file("litellm/litellm-config-configmap.yaml", "config.yaml", *values))


def routes(*values: str):
    return parse_routes(
        yaml.safe_load(chart_file("litellm/litellm-routes-configmap.yaml", "routes.yaml", *values)),
        "configmap",
    )


def test_model_list_has_the_virtual_model_the_base_model_and_every_adapter():
    config = proxy_config("three-adapters.yaml")
    names = [m["model_name"] for m in config["model_list"]]
    assert names == ["auto", "phi2", "doctor", "dcot", "sql"]
    targets = {m["model_name"]: m["litellm_params"]["model"] for m in config["model_list"]}
    assert targets["auto"] == "hosted_vllm/phi2", "the virtual model must be backed by the base model"
    assert targets["sql"] == "hosted_vllm/sql"
    assert config["router_settings"]["fallbacks"] == [
        {"doctor": ["phi2"]},
        {"dcot": ["phi2"]},
        {"sql": ["phi2"]},
    ]


def test_guards_then_hook_auth_and_keys_come_from_the_image_and_the_environment():
    config = proxy_config()
    callbacks = config["litellm_settings"]["callbacks"]
    assert callbacks.index("dynamic_model_router.request.guards.proxy_guard_instance") < callbacks.index(
        "custom_router.proxy_handler_instance"
    ), "the guards must turn bad requests away before the router sees them"
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    auth = config["general_settings"]["custom_auth"]
    assert auth == "dynamic_model_router.request.master_key_auth.user_api_key_auth"
    for name in [*(c for c in callbacks if c != "prometheus"), auth]:
        module = name.rpartition(".")[0]
        assert importlib.util.find_spec(module), f"{name}: the installed project has no module {module}"
    assert all(m["litellm_params"]["api_base"] == "os.environ/VLLM_API_BASE" for m in config["model_list"])


def test_routes_configmap_is_the_project_routes_file_for_the_default_adapters():
    rendered = routes()
    assert set(rendered.prompts) == {"dcot"}, "the adapters' prompt formats come from the values"
    assert rendered.model_copy(update={"prompts": {}}) == load_routes()


def test_adapter_utterances_in_values_add_a_route_to_that_adapter():
    config = routes("three-adapters.yaml")
    sql = next(r for r in config.routes if r.name == "sql")
    assert (sql.model, sql.threshold) == ("sql", 0.8)
    assert len(sql.utterances) == 3
    assert config.models <= {"phi2", "doctor", "dcot", "sql"}


def test_an_adapter_left_out_of_the_list_is_neither_served_nor_routed():
    config = routes("doctor-only.yaml")
    assert [(r.name, r.model) for r in config.routes] == [("doctor", "doctor"), ("general", "phi2")]
    listed = {m["model_name"] for m in proxy_config("doctor-only.yaml")["model_list"]}
    assert listed == {"auto", "phi2", "doctor"}
    args = find(render("doctor-only.yaml"), "ServingRuntime")["spec"]["containers"][0]["args"]
    assert args[args.index("--lora-modules") + 1 :] == ["doctor=/mnt/models/adapters/doctor"]
    assert [c["route"] for c in helm_test_checks("doctor-only.yaml")] == ["doctor", "general"]


def test_an_adapter_marked_routed_false_is_served_without_a_route(tmp_path: Path):
    values = tmp_path / "values.yaml"
    values.write_text(
        "adapters: [{name: doctor, rank: 64}, {name: dcot, rank: 64}, {name: sql, routed: false}]\n",
        encoding="utf-8",
    )
    listed = {m["model_name"] for m in proxy_config(str(values))["model_list"]}
    assert "sql" in listed, "a served adapter is in LiteLLM's model list, so clients can name it"
    assert "sql" not in routes(str(values)).models


def test_adapter_list_routes_and_vllm_agree():
    objects = render("three-adapters.yaml")
    args = find(objects, "ServingRuntime")["spec"]["containers"][0]["args"]
    served = {"phi2"} | {a.split("=")[0] for a in args[args.index("--lora-modules") + 1 :]}
    listed = {m["model_name"] for m in proxy_config("three-adapters.yaml")["model_list"]} - {"auto"}
    assert served == listed
    assert routes("three-adapters.yaml").models <= served


def test_the_routers_code_ships_in_the_image_only_never_in_a_configmap():
    objects = render("three-adapters.yaml")
    code = [
        f"{o['metadata']['name']}/{key}"
        for o in objects
        if o["kind"] == "ConfigMap"
        for key in o.get("data", {})
        if key.endswith(".py")
    ]
    assert not code, f"Python code in ConfigMaps: {code}"
    [container] = find(objects, "Deployment", "-litellm")["spec"]["template"]["spec"]["containers"]
    env = {e["name"] for e in container["env"]}
    assert "PYTHONPATH" not in env, "the image's own path must find the router's modules"


def test_config_and_routes_are_mounted_as_directories_and_routes_reload_live():
    deployment = find(render(), "Deployment", "-litellm")
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert not [m for m in mounts.values() if "subPath" in m], "subPath mounts never see ConfigMap updates"
    env = {e["name"]: e for e in container["env"]}
    assert env["SEMANTIC_ROUTES_FILE"]["value"] == f"{mounts['routes']['mountPath']}/routes.yaml"
    assert env["LITELLM_MASTER_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "master-key"
    assert Path(container["args"][container["args"].index("--config") + 1]).parent == Path(
        mounts["config"]["mountPath"]
    )
    annotations = pod["metadata"]["annotations"]
    assert "checksum/config" in annotations
    assert not [k for k in annotations if "routes" in k], "a routes checksum would restart pods on every edit"


def test_a_routes_edit_does_not_restart_the_proxy_but_a_config_change_does():
    def checksums(*sets: str) -> dict:
        return find(render(sets=sets), "Deployment", "-litellm")["spec"]["template"]["metadata"][
            "annotations"
        ]

    base = checksums()
    new_utterance = ("adapters[0].name=doctor", "adapters[0].utterances[0]=hello", "adapters[1].name=dcot")
    assert checksums(*new_utterance) == base
    assert checksums("router.virtualModel=smart") != base


def test_autoscaling_and_disruption_budget_when_asked():
    objects = render("scaled.yaml")
    hpa = find(objects, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert "replicas" not in find(objects, "Deployment", "-litellm")["spec"], "HPA owns the replica count"
    assert find(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert not [o for o in render() if o["kind"] in ("HorizontalPodAutoscaler", "PodDisruptionBudget")]


def test_only_open_webui_the_test_pod_and_extra_sources_reach_litellm():
    policy = find(render("scaled.yaml"), "NetworkPolicy", "-litellm")
    [rule] = policy["spec"]["ingress"]
    components = [s["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for s in rule["from"][:2]]
    assert components == ["open-webui", "test"]
    namespaces = [
        s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in rule["from"][2:]
    ]
    assert namespaces == ["batch-jobs"]
    assert rule["ports"] == [{"port": 4000, "protocol": "TCP"}]
    default = find(render(), "NetworkPolicy", "-litellm")["spec"]["ingress"][0]["from"]
    assert len(default) == 2, "without monitoring or extra sources only Open WebUI and the test pod"


def helm_test_checks(*values: str) -> list[dict]:
    pod = find(render(*values), "Pod", "-test-routing")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["VIRTUAL_MODEL"] == "auto"
    assert env["ROUTE_HEADER"] == ROUTE_HEADER, "the test pod must read the header the router writes"
    return json.loads(env["CHECKS"])


@pytest.mark.parametrize("values", [(), ("three-adapters.yaml",)], ids=["default", "third-adapter"])
def test_helm_test_pod_checks_that_every_route_reaches_its_model_with_one_of_its_own_utterances(
    values: tuple[str, ...],
):
    checks = helm_test_checks(*values)
    config = routes(*values)
    assert [(c["route"], c["model"]) for c in checks] == [(r.name, r.model) for r in config.routes]
    for check, route in zip(checks, config.routes, strict=True):
        assert check["message"] == route.utterances[0], f"{route.name}: not one of its own utterances"


def test_prompts_stay_out_of_the_proxy_log_unless_debug_logging_is_switched_on():
    def proxy(*sets: str) -> tuple[dict, dict[str, str]]:
        objects = render(sets=sets)
        config = yaml.safe_load(find(objects, "ConfigMap", "-config")["data"]["config.yaml"])
        [container] = find(objects, "Deployment", "-litellm")["spec"]["template"]["spec"]["containers"]
        return config, {e["name"]: e.get("value") for e in container["env"]}

    config, env = proxy()
    assert config["litellm_settings"]["turn_off_message_logging"] is True
    assert "LITELLM_LOG" not in env, "LiteLLM logs prompts at DEBUG; that must be opt-in"
    config, env = proxy("litellm.debugLogging=true")
    assert config["litellm_settings"]["turn_off_message_logging"] is False
    assert env["LITELLM_LOG"] == "DEBUG"


def test_the_routes_configmap_carries_the_schema_its_routes_file_points_at():
    data = find(render(), "ConfigMap", "-routes")["data"]
    assert data["routes.yaml"].startswith("# yaml-language-server: $schema=./routes.schema.json\n")
    assert data["routes.schema.json"] == (ROUTER / "routes.schema.json").read_text()


def proxy_env(*sets: str) -> dict[str, str]:
    [container] = find(render(sets=sets), "Deployment", "-litellm")["spec"]["template"]["spec"]["containers"]
    return {name: e.get("value", "") for name, e in env_of(container).items()}


def test_the_proxys_edge_limits_come_from_values_and_start_strict():
    env = proxy_env()
    assert (env["MAX_CHOICES"], env["STRUCTURED_OUTPUTS"], env["STRUCTURED_OUTPUT_MAX_BYTES"]) == (
        "1",
        "false",
        "16384",
    )
    assert Limits.from_environment(env) == Limits(), "the chart's defaults must be the proxy's own"
    env = proxy_env("litellm.requests.maxChoices=4", "litellm.requests.structuredOutputs.enabled=true")
    assert Limits.from_environment(env) == Limits(max_choices=4, structured_outputs=True)


@pytest.mark.parametrize("value", ["0", "2.5"])
def test_a_max_choices_that_is_no_whole_number_fails_the_render(value: str):
    error = render_error(set_json=(f"litellm.requests.maxChoices={value}",))
    assert "litellm.requests.maxChoices" in error and "a whole number of 1 or more" in error, error
