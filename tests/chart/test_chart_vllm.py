"""The vLLM part of the chart: ServingRuntime and InferenceService derived from the adapters."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from litellm.constants import AIOHTTP_KEEPALIVE_TIMEOUT

from dmr_tools.chart import find, render, render_error
from dmr_tools.paths import CHART


def vllm_args(*values: str) -> list[str]:
    runtime = find(render(*values), "ServingRuntime")
    return runtime["spec"]["containers"][0]["args"]


def runtime_env(objects: list[dict]) -> dict[str, str | None]:
    """The vLLM container's environment variables, by name."""
    runtime = find(objects, "ServingRuntime")
    return {e["name"]: e.get("value") for e in runtime["spec"]["containers"][0]["env"]}


def lora_modules(args: list[str]) -> list[str]:
    return args[args.index("--lora-modules") + 1 :]


def test_renders_one_lora_module_per_adapter_with_the_default_path():
    args = vllm_args()
    assert "--served-model-name=phi2" in args
    assert "--enable-lora" in args
    assert lora_modules(args) == ["doctor=/mnt/models/adapters/doctor", "dcot=/mnt/models/adapters/dcot"]
    assert "--max-loras=2" in args


def test_a_third_adapter_is_served_and_sizes_the_lora_limits():
    args = vllm_args("three-adapters.yaml")
    assert lora_modules(args)[-1] == "sql=/mnt/models/adapters/sql"
    assert "--max-loras=3" in args
    assert "--max-lora-rank=128" in args


def test_max_lora_rank_is_the_smallest_vllm_size_that_fits_the_largest_adapter():
    args = vllm_args("pvc-model.yaml")  # ranks 16 and 32
    assert "--max-lora-rank=32" in args
    assert lora_modules(args) == ["doctor=/mnt/models/Phi2-Doctor28e", "dcot=/mnt/models/phi-2-dcot"]


def test_model_comes_from_an_oci_modelcar_by_default_or_a_pvc():
    default = find(render(), "InferenceService")["spec"]["predictor"]["model"]
    assert default["storageUri"].startswith("oci://")
    pvc = find(render("pvc-model.yaml"), "InferenceService")["spec"]["predictor"]["model"]
    assert pvc["storageUri"] == "pvc://models/phi-2"


def test_inference_service_is_a_raw_deployment_on_one_gpu_listed_in_the_dashboard():
    objects = render()
    isvc = find(objects, "InferenceService")
    runtime = find(objects, "ServingRuntime")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert isvc["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
    assert runtime["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["runtime"] == runtime["metadata"]["name"]
    assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor["tolerations"]


def test_chat_template_and_shared_memory_are_mounted():
    objects = render()
    container = find(objects, "ServingRuntime")["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["shm"] == "/dev/shm"
    assert f"--chat-template={mounts['chat-template']}/template.jinja" in container["args"]
    template = find(objects, "ConfigMap", "-chat-template")["data"]["template.jinja"]
    assert "messages" in template and "add_generation_prompt" in template
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/health", probe


def test_only_litellm_may_reach_vllm():
    objects = render()
    policy = find(objects, "NetworkPolicy", "-vllm")
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": find(objects, "InferenceService")["metadata"]["name"]
    }
    [rule] = policy["spec"]["ingress"]
    [source] = rule["from"]
    assert source["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "litellm"


def test_litellm_calls_vllm_pods_on_the_serving_runtime_container_port():
    objects = render()
    container = find(objects, "ServingRuntime")["spec"]["containers"][0]
    [port] = container["ports"]
    assert f"--port={port['containerPort']}" in container["args"]
    service = find(objects, "Service", "-vllm-api")
    [service_port] = service["spec"]["ports"]
    assert service_port["port"] == service_port["targetPort"] == port["containerPort"], service_port
    # KServe's pod label, the same pods the NetworkPolicy lets LiteLLM reach, on the same port.
    policy = find(objects, "NetworkPolicy", "-vllm")
    assert service["spec"]["selector"] == policy["spec"]["podSelector"]["matchLabels"]
    assert policy["spec"]["ingress"][0]["ports"][0]["port"] == port["containerPort"]
    litellm = find(objects, "Deployment", "-litellm")["spec"]["template"]["spec"]["containers"][0]
    url = urlparse(next(e["value"] for e in litellm["env"] if e["name"] == "VLLM_API_BASE"))
    assert url.hostname == f"{service['metadata']['name']}.demo.svc", url
    assert url.port == port["containerPort"], f"LiteLLM calls port {url.port}, vLLM listens on {port}"


def test_vllm_image_is_openshift_ai_3_5s_runtime_image_pinned_by_digest_with_its_version():
    runtime = find(render(), "ServingRuntime")
    image = runtime["spec"]["containers"][0]["image"]
    assert image == (
        "registry.redhat.io/rhaii/vllm-cuda-rhel9@sha256:"
        "ba060ec145e1b7ac3a3b25b89fc75f7d146746156990ff5858235eaa9d158e32"
    ), image
    assert runtime["metadata"]["annotations"]["opendatahub.io/runtime-version"] == "v0.24.0"
    tagged = find(render(sets=("vllm.image.digest=", "vllm.image.tag=my-build")), "ServingRuntime")
    assert tagged["spec"]["containers"][0]["image"] == "registry.redhat.io/rhaii/vllm-cuda-rhel9:my-build"


def test_the_openshift_ai_2_values_file_renders_2_22s_vllm_image_and_version():
    runtime = find(render(str(CHART / "values-openshift-ai-2.yaml")), "ServingRuntime")
    image = runtime["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"quay\.io/modh/vllm@sha256:d75db59e[0-9a-f]{56}", image), image
    assert runtime["metadata"]["annotations"]["opendatahub.io/runtime-version"] == "v0.9.1.0"


def test_the_metadata_openshift_ai_3_reads_is_on_the_inference_service_and_the_pod():
    objects = render()
    annotations = find(objects, "InferenceService")["metadata"]["annotations"]
    assert annotations["opendatahub.io/model-type"] == "generative"
    assert annotations["openshift.io/description"], "the dashboard shows a description"
    assert annotations["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert not [k for k in annotations if "hardware-profile" in k], "no hardware profile unless asked"
    pod = find(objects, "ServingRuntime")["spec"]["annotations"]
    assert pod["opendatahub.io/kserve-runtime"] == "vllm"


def isvc_annotations(*sets: str) -> dict[str, str]:
    return find(render(sets=sets), "InferenceService")["metadata"]["annotations"]


def test_a_hardware_profile_is_named_by_the_annotations_the_webhook_reads():
    annotations = isvc_annotations("vllm.hardwareProfile.name=nvidia-gpu")
    assert annotations["opendatahub.io/hardware-profile-name"] == "nvidia-gpu"
    namespace = annotations["opendatahub.io/hardware-profile-namespace"]
    assert namespace == "demo", "default: the release's namespace"
    elsewhere = isvc_annotations(
        "vllm.hardwareProfile.name=g", "vllm.hardwareProfile.namespace=redhat-ods-applications"
    )
    assert elsewhere["opendatahub.io/hardware-profile-namespace"] == "redhat-ods-applications"


def test_vllm_replicas_come_from_values():
    predictor = find(render(sets=("vllm.replicas=3",)), "InferenceService")["spec"]["predictor"]
    assert predictor["minReplicas"] == predictor["maxReplicas"] == 3


def test_extra_environment_variables_reach_the_vllm_container():
    env = runtime_env(
        render(sets=("vllm.extraEnv[0].name=VLLM_LOGGING_LEVEL", "vllm.extraEnv[0].value=DEBUG"))
    )
    assert env["VLLM_LOGGING_LEVEL"] == "DEBUG", env
    assert env["HF_HUB_OFFLINE"] == "1", "the chart's own variables must stay"


def test_vllm_keeps_idle_connections_longer_than_the_proxy_reuses_them():
    objects = render()
    env = runtime_env(objects)
    proxy = find(objects, "Deployment", "litellm")["spec"]["template"]["spec"]["containers"][0]
    assert "AIOHTTP_KEEPALIVE_TIMEOUT" not in {e["name"] for e in proxy["env"]}, "the proxy's pool changed"
    assert int(env["VLLM_HTTP_TIMEOUT_KEEP_ALIVE"]) > AIOHTTP_KEEPALIVE_TIMEOUT, (
        f"vLLM closes idle connections after {env['VLLM_HTTP_TIMEOUT_KEEP_ALIVE']} s, while the proxy "
        f"reuses them for {AIOHTTP_KEEPALIVE_TIMEOUT} s: a request can go out on a closing connection"
    )


@pytest.mark.parametrize("value", ["5", "15", "30.5"])
def test_a_vllm_keep_alive_the_proxy_could_outlast_fails_the_render(value: str):
    error = render_error(set_json=(f"vllm.keepAliveSeconds={value}",))
    assert f"vllm.keepAliveSeconds {value}: a whole number above 15" in error, error
