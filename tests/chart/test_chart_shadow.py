"""Shadow decisions in the chart: off by default; the encoders volume (read-only) and the review
volume (the proxy's only writable volume besides /tmp) each one value away; the live encoder and a
candidate from the values land in the routes file as the router reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from dmr_tools.chart import chart_file, env_of, find, render, render_error
from dynamic_model_router.routes_file import candidate, parse_routes

ON = "shadow.yaml"
PINNED = {"path": "v2", "sha256": "a" * 64}


def proxy(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = find(objects, "Deployment", "-litellm")["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def routes_file(tmp_path, values: dict[str, Any]):
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return parse_routes(
        yaml.safe_load(chart_file("litellm/litellm-routes-configmap.yaml", "routes.yaml", str(path)))
    )


def test_shadow_volumes_and_candidate_are_off_by_default(tmp_path):
    objects = render()
    pod, container = proxy(objects)
    claims = [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"]
    assert not [c for c in claims if c.endswith(("-encoders", "-review"))], claims
    assert not {"SEMANTIC_ROUTER_ENCODERS_DIR", "SEMANTIC_ROUTER_REVIEW_DIR"} & set(env_of(container))
    assert routes_file(tmp_path, {}).candidate is None, "no candidate unless the values name one"


def test_one_value_each_mounts_the_encoders_read_only_and_the_review_volume_writable():
    objects = render(ON)
    pod, container = proxy(objects)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    encoders = find(objects, "PersistentVolumeClaim", "-encoders")["metadata"]["name"]
    review = find(objects, "PersistentVolumeClaim", "-review")["metadata"]["name"]
    assert volumes["encoders"]["persistentVolumeClaim"] == {"claimName": encoders, "readOnly": True}
    assert mounts["encoders"] == {"name": "encoders", "mountPath": "/mnt/encoders", "readOnly": True}
    assert volumes["review"]["persistentVolumeClaim"] == {"claimName": review}
    assert mounts["review"] == {"name": "review", "mountPath": "/mnt/review"}
    settings = {name: e.get("value") for name, e in env_of(container).items()}
    assert settings["SEMANTIC_ROUTER_ENCODERS_DIR"] == "/mnt/encoders"
    assert (settings["SEMANTIC_ROUTER_REVIEW_DIR"], settings["SEMANTIC_ROUTER_REVIEW_MAX_MB"]) == (
        "/mnt/review",
        "1",
    )
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_existing_claims_are_used_instead_of_new_ones():
    objects = render(
        ON,
        sets=(
            "router.encoders.persistence.existingClaim=my-encoders",
            "router.review.persistence.existingClaim=my-review",
        ),
    )
    claims = [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"]
    assert not [c for c in claims if c.endswith(("-encoders", "-review"))], claims
    pod, _ = proxy(objects)
    volumes = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert (volumes["encoders"], volumes["review"]) == ("my-encoders", "my-review")


def test_the_live_encoder_and_a_candidate_in_the_values_reach_the_routes_file(tmp_path):
    config = routes_file(
        tmp_path,
        {"router": {"encoder": PINNED, "candidate": {"name": "trained", "review": True, "threshold": 0.9}}},
    )
    assert (config.encoder.path, config.encoder.sha256) == ("v2", "a" * 64)
    found = candidate(config)
    assert found is not None and (found.name, found.shadow, found.review) == ("trained", True, True)
    assert found.config.threshold == 0.9 and found.config.encoder == config.encoder


@pytest.mark.parametrize(
    "bad, says",
    [
        ({"shadow": True}, "name"),
        ({"name": "x", "thresold": 0.2}, "thresold"),
        ({"name": "x", "encoder": {"pth": "v2"}}, "pth"),
    ],
    ids=["no-name", "unknown-setting", "unknown-encoder-field"],
)
def test_a_candidate_the_router_would_refuse_is_refused_at_install(bad: dict[str, Any], says: str):
    error = render_error(set_json=(f"router.candidate={json.dumps(bad)}",))
    assert "/router/candidate" in error and says in error, error
