"""Runtime adapters in the chart: off by default; one value turns on the volume in vLLM and the
proxy, vLLM's runtime adapter API and the proxy's settings; the limits vLLM starts with fit them."""

from __future__ import annotations

import re

import pytest

from dmr_tools.chart import env_of, find, render, render_error
from dmr_tools.paths import CHART
from dynamic_model_router.runtime import adapters

ON = "runtime-adapters.yaml"


def parts(*values: str) -> tuple[dict, dict, dict, dict]:
    objects = render(*values)
    runtime = find(objects, "ServingRuntime", "-vllm")["spec"]
    deployment = find(objects, "Deployment", "-litellm")["spec"]["template"]["spec"]
    return objects, runtime, runtime["containers"][0], deployment


def test_runtime_adapters_are_off_by_default():
    objects, runtime, vllm, deployment = parts()
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING" not in env_of(vllm), "vLLM's adapter API is on by default"
    assert "RUNTIME_ADAPTERS_DIR" not in env_of(deployment["containers"][0])
    claims = [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"]
    assert not [c for c in claims if c.endswith("-runtime-adapters")], claims


def test_one_value_mounts_the_volume_read_only_in_vllm_and_the_proxy_at_the_same_path():
    objects, runtime, vllm, deployment = parts(ON)
    claim = find(objects, "PersistentVolumeClaim", "-runtime-adapters")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "vLLM and the proxy pods may sit on other nodes"
    proxy = deployment["containers"][0]
    for spec, container in ((runtime, vllm), (deployment, proxy)):
        [volume] = [v for v in spec["volumes"] if v["name"] == "runtime-adapters"]
        assert volume["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"], "readOnly": True}
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "runtime-adapters"]
        assert mount == {"name": "runtime-adapters", "mountPath": "/mnt/runtime-adapters", "readOnly": True}
    assert env_of(vllm)["VLLM_ALLOW_RUNTIME_LORA_UPDATING"]["value"] == "true"
    assert "VLLM_LORA_RESOLVER_CACHE_DIR" not in env_of(vllm), "the proxy loads adapters, not vLLM's resolver"
    settings = {name: e.get("value") for name, e in env_of(proxy).items()}
    assert settings["RUNTIME_ADAPTERS_DIR"] == "/mnt/runtime-adapters"
    assert settings["RUNTIME_ADAPTERS_BASE_MODELS"] == "microsoft/phi-2"
    args = vllm["args"]
    assert f"--max-lora-rank={settings['RUNTIME_ADAPTERS_MAX_RANK']}" in args


def test_vllm_starts_with_lora_limits_that_fit_runtime_adapters(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("runtimeAdapters: {enabled: true, maxRank: 100, maxLoras: 6}\n", encoding="utf-8")
    _, _, vllm, _ = parts(str(values))
    assert {"--enable-lora", "--max-loras=6", "--max-lora-rank=128"} <= set(vllm["args"]), vllm["args"]


def test_an_existing_claim_is_used_instead_of_a_new_one():
    existing = render(ON, sets=("runtimeAdapters.persistence.existingClaim=adapters-of-mine",))
    assert not [
        o for o in existing if o["kind"] == "PersistentVolumeClaim" and "runtime" in o["metadata"]["name"]
    ]
    runtime = find(existing, "ServingRuntime", "-vllm")["spec"]
    [volume] = [v for v in runtime["volumes"] if v["name"] == "runtime-adapters"]
    assert volume["persistentVolumeClaim"]["claimName"] == "adapters-of-mine"


@pytest.mark.parametrize("claim", ["", "adapters-of-mine"], ids=["chart-volume", "existing-claim"])
def test_runtime_adapters_refuse_more_than_one_vllm_replica_whichever_volume_holds_them(claim: str):
    error = render_error(
        "runtimeAdapters.enabled=true",
        "vllm.replicas=2",
        f"runtimeAdapters.persistence.existingClaim={claim}",
    )
    assert "runtimeAdapters.enabled needs vllm.replicas 1" in error, error


def test_the_chart_and_the_router_accept_the_same_model_names():
    validations = (CHART / "templates" / "_validations.tpl").read_text(encoding="utf-8")
    found = re.search(r'define "dmr.modelNamePattern" -}}\n(.+)\n', validations)
    assert found, "_validations.tpl must define dmr.modelNamePattern on one line"
    assert found.group(1) == adapters.NAME.pattern, (
        f"the chart allows model names {found.group(1)} but runtime adapters {adapters.NAME.pattern}"
    )
