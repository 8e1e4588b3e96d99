"""The chart as a whole: lint, render, schema validation, security and secrets."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from dmr_tools.chart import crd_schemas, helm, pod_spec, render, render_error
from dmr_tools.paths import CHART, CHART_VALUES, README_GENERATOR

VALUE_FILES = sorted(p.name for p in CHART_VALUES.glob("*.yaml"))
KUBERNETES_VERSION = "1.31.0"
CRD_KINDS = {"InferenceService", "ServingRuntime", "Route", "ServiceMonitor", "PodMonitor", "PrometheusRule"}


def test_helm_lint_strict_passes_with_default_and_example_values():
    for values in [[], *[["-f", str(CHART_VALUES / name)] for name in VALUE_FILES]]:
        result = helm("lint", "--strict", str(CHART), *values)
        assert result.returncode == 0, f"helm lint {values} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("values", [[], *[[name] for name in VALUE_FILES]], ids=["defaults", *VALUE_FILES])
def test_every_core_object_validates_strictly_against_kubernetes_schemas(values: list[str]):
    for obj in render(*values):
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {e.message} at {list(e.path)}")
        except kubernetes_validate.SchemaNotFoundError as e:
            pytest.fail(
                f"no schema for {obj['kind']} {obj['apiVersion']}: a kind nothing checks is a failure ({e})"
            )


def _strict(schema: Any) -> Any:
    """Reject unknown fields like the API server's strict field validation does."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.mark.parametrize(
    ("values", "monitoring"),
    [([], False), ([], True), *[([name], False) for name in VALUE_FILES]],
    ids=["defaults", "monitoring-api", *VALUE_FILES],
)
def test_kserve_route_and_monitoring_objects_validate_against_cluster_schemas(
    values: list[str], monitoring: bool
):
    schemas = crd_schemas()
    checked = set()
    for obj in render(*values, monitoring=monitoring):
        if obj["kind"] not in CRD_KINDS:
            continue
        key = f"{obj['apiVersion']}/{obj['kind']}"
        assert key in schemas["schemas"], f"no schema for {key}"
        schema = _strict({**copy.deepcopy(schemas["schemas"][key]), "definitions": schemas["definitions"]})
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
        assert not errors, f"{key} {obj['metadata']['name']}: " + "; ".join(
            f"{e.message} at {list(e.path)}" for e in errors[:5]
        )
        checked.add(obj["kind"])
    expected = {"InferenceService", "ServingRuntime", "Route"} | (
        {"ServiceMonitor", "PodMonitor", "PrometheusRule"} if monitoring else set()
    )
    assert checked == expected, f"expected to check {expected}, checked {checked}"


def test_the_route_is_only_rendered_where_the_route_api_exists():
    assert not [o for o in render(openshift=False) if o["kind"] == "Route"]
    assert [o for o in render() if o["kind"] == "Route"]


@pytest.mark.parametrize("values", [[], ["scaled.yaml"]], ids=["defaults", "scaled"])
def test_every_container_meets_openshift_restricted_v2(values: list[str]):
    objects = render(*values)
    pods = [(o, pod_spec(o)) for o in objects]
    pods += [(o, o["spec"]) for o in objects if o["kind"] == "ServingRuntime"]
    pods += [(o, o["spec"]["predictor"]) for o in objects if o["kind"] == "InferenceService"]
    containers_seen = 0
    for obj, spec in pods:
        if spec is None:
            continue
        where = f"{obj['kind']} {obj['metadata']['name']}"
        if obj["kind"] != "ServingRuntime":
            pod_security = spec.get("securityContext", {})
            assert pod_security.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot"
            assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp"
            assert "runAsUser" not in pod_security and "fsGroup" not in pod_security, (
                f"{where}: fixed UID/fsGroup"
            )
        for container in spec.get("containers", []):
            containers_seen += 1
            security = container.get("securityContext", {})
            name = f"{where} container {container['name']}"
            assert security.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation"
            assert security.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: capabilities"
            assert security.get("runAsNonRoot") is True, f"{name}: runAsNonRoot"
            assert "runAsUser" not in security, f"{name}: fixed runAsUser"
            assert security.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccomp"
            assert "privileged" not in security or security["privileged"] is False, f"{name}: privileged"
            if obj["kind"] != "ServingRuntime":
                assert container.get("resources", {}).get("requests"), f"{name}: no resource requests"
    assert containers_seen >= 4, f"only {containers_seen} containers checked"


def test_no_secret_value_lands_in_a_configmap():
    objects = render()
    secrets = [
        base64.b64decode(value).decode()
        for o in objects
        if o["kind"] == "Secret"
        for value in o.get("data", {}).values()
    ]
    assert secrets and all(len(s) >= 32 for s in secrets), "expected generated secrets of 32+ characters"
    for cm in (o for o in objects if o["kind"] == "ConfigMap"):
        text = str(cm.get("data", {}))
        for secret in secrets:
            assert secret not in text, f"ConfigMap {cm['metadata']['name']} holds a secret value"


def test_generated_master_key_looks_like_a_litellm_key():
    secret = next(o for o in render() if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-litellm"))
    assert base64.b64decode(secret["data"]["master-key"]).decode().startswith("sk-")


def test_existing_secrets_are_used_and_none_generated():
    objects = render("existing-secrets.yaml")
    assert not [o for o in objects if o["kind"] == "Secret"], "a Secret was generated despite existingSecret"
    text = str(objects)
    assert "my-litellm-key" in text and "my-webui-key" in text


def test_two_gitops_renders_are_the_same_while_generated_keys_change_on_every_render():
    # The control: helm template cannot look up the Secret, so a generated key changes each time.
    assert render() != render(), "two renders with generated keys came out the same"
    gitops = ("existing-secrets.yaml",)
    assert render(*gitops, sets=("secrets.generate=false",)) == render(
        *gitops, sets=("secrets.generate=false",)
    )


@pytest.mark.parametrize("missing", ["litellm.existingSecret", "openWebui.existingSecret"])
def test_gitops_without_an_existing_secret_fails_naming_the_value_to_set(missing: str):
    other = "openWebui" if missing.startswith("litellm") else "litellm"
    error = render_error("secrets.generate=false", f"{other}.existingSecret=mine")
    assert f"{missing} is empty but secrets.generate is false" in error, error


def test_every_object_carries_the_common_labels_and_a_component():
    for obj in render("scaled.yaml"):
        labels = obj["metadata"].get("labels", {})
        where = f"{obj['kind']} {obj['metadata']['name']}"
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"):
            assert key in labels, f"{where}: missing label {key}"
        assert labels.get("app.kubernetes.io/component"), f"{where}: missing component label"


@pytest.mark.parametrize(
    ("sets", "set_json", "expected"),
    [
        ((), ('adapters=[{"rank": 8}]',), "missing property 'name'"),
        (("litellm.replicas=zero",), (), "/litellm/replicas"),
        (("colour=blue",), (), "additional properties 'colour' not allowed"),
        (("adapters[0].name=Bad_Name!",), (), 'adapters[0].name "Bad_Name!": a model name is lowercase'),
        (("baseModel.storageUri=models/phi2",), (), 'baseModel.storageUri "models/phi2": use oci://'),
        (
            (),
            ('adapters=[{"name": "doctor", "rank": 64}, {"name": "dcot", "rank": 64}, {"name": "sql"}]',),
            "adapters[2] (sql) has no route: add its utterances",
        ),
        ((), ('adapters=[{"name": "doctor"}, {"name": "doctor"}]',), '"doctor" is listed twice'),
        (("router.virtualModel=phi2",), (), 'router.virtualModel "phi2" is also a served model'),
        ((), ('adapters=[{"name": "doctor", "rank": 600}, {"name": "dcot"}]',), "rank 600 is larger than"),
        (("vllm.image.digest=sha256:abc",), (), "vllm.image.digest must be sha256: and 64 lowercase hex"),
        (("litellm.image.digest=latest",), (), "litellm.image.digest must be sha256: and 64 lowercase hex"),
        (("vllm.image.digest=",), (), "vllm.image: set digest (preferred) or tag"),
        (("vllm.replicas=0",), (), "vllm.replicas must be 1 or more"),
        (("router.logLevel=LOUD",), (), 'router.logLevel "LOUD": one of DEBUG, INFO, WARNING, ERROR'),
        ((), ('adapters=[{"name": "doctor", "utterance": ["hi"]}]',), "additional properties 'utterance'"),
    ],
    ids=[
        "adapter-without-name",
        "replicas-not-a-number",
        "unknown-key",
        "bad-adapter-name",
        "storage-uri-without-scheme",
        "route-to-unserved-model",
        "duplicate-adapter",
        "virtual-model-is-served",
        "rank-too-large",
        "image-digest-malformed",
        "litellm-digest-malformed",
        "image-neither-digest-nor-tag",
        "no-vllm-replicas",
        "unknown-log-level",
        "adapter-key-misspelt",
    ],
)
def test_bad_values_fail_with_a_readable_message(
    sets: tuple[str, ...], set_json: tuple[str, ...], expected: str
):
    error = render_error(*sets, set_json=set_json)
    assert expected in error, f"expected {expected!r} in:\n{error}"


def test_default_image_tags_are_the_chart_version_the_release_workflow_pushes():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    version = chart["version"]
    assert chart["appVersion"] == version
    workflow_text = (CHART.parent / ".github" / "workflows" / "release.yaml").read_text(encoding="utf-8")
    registry = yaml.safe_load(workflow_text)["env"]["REGISTRY"]
    released = {
        values["litellm"]["image"]["repository"]: values["litellm"]["image"]["tag"],
        values["testImage"]["repository"]: values["testImage"]["tag"],
        **dict([values["baseModel"]["storageUri"].removeprefix("oci://").rsplit(":", 1)]),
    }
    for repository, tag in released.items():
        assert tag == version, f"{repository}:{tag} is not the chart's version {version}"
        image = repository.removeprefix(registry + "/")
        assert f"${{REGISTRY}}/{image}:${{VERSION}}" in workflow_text, (
            f"the release does not push {repository}"
        )


def test_every_image_takes_a_digest_instead_of_its_tag():
    digest = "sha256:" + "0123456789abcdef" * 4
    sets = tuple(
        f"{image}.digest={digest}"
        for image in ("vllm.image", "litellm.image", "openWebui.image", "testImage")
    )
    images = [
        container["image"]
        for obj in render(sets=sets)
        if (spec := pod_spec(obj) or (obj["spec"] if obj["kind"] == "ServingRuntime" else None))
        for container in spec["containers"]
    ]
    assert len(images) == 4, images
    assert all(image.endswith(f"@{digest}") for image in images), images


def test_ports_are_named_once_and_never_written_as_numbers_in_a_template():
    literal = re.compile(r"\b(4000|8080|8000)\b")
    found = [
        f"{path.relative_to(CHART)}:{n}"
        for path in (CHART / "templates").rglob("*")
        if path.is_file() and path.name != "_endpoints.tpl"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if literal.search(line) and "port-forward" not in line
    ]
    assert not found, f"port numbers written outside _endpoints.tpl: {found}"


def test_the_chart_readme_and_values_schema_are_current_with_the_values_annotations():
    result = subprocess.run(
        [sys.executable, "-m", "dmr_tools.generate.chart_docs", str(README_GENERATOR), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def readme_rows() -> list[tuple[str, str]]:
    """(name, default) of every row of chart/README.md's parameter tables; a row must be one line."""
    rows = []
    for line in (CHART / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            assert len(cells) == 3, f"a parameter row that is not three cells (a broken table): {line[:120]}"
            rows.append((cells[0].strip("`"), cells[2]))
    return rows


def test_every_default_in_the_chart_readme_is_the_one_in_values_yaml():
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    rows = readme_rows()
    assert len(rows) > 50, f"only {len(rows)} parameter rows in chart/README.md"
    wrong = []
    for name, cell in rows:
        value: Any = values
        for part in name.split("."):
            value = value[part]
        shown = cell.removeprefix("`").removesuffix("`").replace("\\|", "|")
        if isinstance(value, dict | list) or (isinstance(value, str) and "\n" in value):
            matches = json.loads(shown) == value
        elif isinstance(value, bool):
            matches = shown == str(value).lower()
        else:
            matches = shown == ('""' if value == "" else str(value))
        if not matches:
            wrong.append(f"{name}: README {cell[:60]} but values.yaml {str(value)[:60]}")
    assert not wrong, "chart/README.md shows other defaults than values.yaml:\n" + "\n".join(wrong)
