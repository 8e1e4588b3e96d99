"""The LiteLLM part of the chart: proxy config, routes and plugin derived from the adapters."""

from __future__ import annotations

from pathlib import Path

import yaml

from chart import ROOT, chart_file, find, render
from route_config import load_routes, parse_routes


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


def test_hook_auth_and_keys_come_from_the_plugin_and_the_environment():
    config = proxy_config()
    assert "custom_router.proxy_handler_instance" in config["litellm_settings"]["callbacks"]
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert config["general_settings"]["custom_auth"] == "master_key_auth.user_api_key_auth"
    assert all(m["litellm_params"]["api_base"] == "os.environ/VLLM_API_BASE" for m in config["model_list"])


def test_routes_configmap_is_the_project_routes_file_for_the_default_adapters():
    assert routes() == load_routes()


def test_adapter_utterances_in_values_add_a_route_to_that_adapter():
    config = routes("three-adapters.yaml")
    sql = next(r for r in config.routes if r.name == "sql")
    assert (sql.model, sql.threshold) == ("sql", 0.8)
    assert len(sql.utterances) == 3
    assert config.models <= {"phi2", "doctor", "dcot", "sql"}


def test_adapter_list_routes_and_vllm_agree():
    objects = render("three-adapters.yaml")
    args = find(objects, "ServingRuntime")["spec"]["containers"][0]["args"]
    served = {"phi2"} | {a.split("=")[0] for a in args[args.index("--lora-modules") + 1 :]}
    listed = {m["model_name"] for m in proxy_config("three-adapters.yaml")["model_list"]} - {"auto"}
    assert served == listed
    assert routes("three-adapters.yaml").models <= served


def test_plugin_configmap_carries_every_router_module_unchanged():
    plugin = find(render(), "ConfigMap", "-plugin")["data"]
    for module in sorted((ROOT / "litellm-configs").glob("*.py")):
        assert plugin.get(module.name) == module.read_text(encoding="utf-8"), (
            f"{module.name} differs or is missing"
        )


def test_config_plugin_and_routes_are_mounted_as_directories_and_routes_reload_live():
    deployment = find(render(), "Deployment", "-litellm")
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert not [m for m in mounts.values() if "subPath" in m], "subPath mounts never see ConfigMap updates"
    env = {e["name"]: e for e in container["env"]}
    assert env["SEMANTIC_ROUTES_FILE"]["value"] == f"{mounts['routes']['mountPath']}/routes.yaml"
    assert env["PYTHONPATH"]["value"] == mounts["plugin"]["mountPath"]
    assert env["LITELLM_MASTER_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "master-key"
    assert Path(container["args"][container["args"].index("--config") + 1]).parent == Path(
        mounts["config"]["mountPath"]
    )
    annotations = pod["metadata"]["annotations"]
    assert "checksum/config" in annotations and "checksum/plugin" in annotations
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


def test_only_open_webui_the_test_pod_monitoring_and_extra_sources_reach_litellm():
    policy = find(render("scaled.yaml"), "NetworkPolicy", "-litellm")
    [rule] = policy["spec"]["ingress"]
    components = [s["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for s in rule["from"][:2]]
    assert components == ["open-webui", "test"]
    namespaces = [
        s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in rule["from"][2:]
    ]
    assert namespaces == ["openshift-user-workload-monitoring", "batch-jobs"]
    assert rule["ports"] == [{"port": 4000, "protocol": "TCP"}]
    default = find(render(), "NetworkPolicy", "-litellm")["spec"]["ingress"][0]["from"]
    assert len(default) == 2, "without a ServiceMonitor or extra sources only Open WebUI and the test pod"


def test_service_monitor_scrapes_metrics_with_the_master_key():
    objects = render("scaled.yaml")
    monitor = find(objects, "ServiceMonitor")
    [endpoint] = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics/")
    assert endpoint["authorization"]["credentials"]["key"] == "master-key"
    service = find(objects, "Service", "-litellm")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert not [o for o in render() if o["kind"] == "ServiceMonitor"]


def test_helm_test_pod_expects_a_medical_question_to_reach_doctor():
    pod = find(render(), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["EXPECTED"]["value"] == "doctor"
    assert env["VIRTUAL_MODEL"]["value"] == "auto"
    assert "x-semantic-route" in container["args"][0]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"


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
    assert data["routes.schema.json"] == (ROOT / "litellm-configs" / "routes.schema.json").read_text()
