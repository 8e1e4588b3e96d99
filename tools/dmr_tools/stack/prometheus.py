"""The chart's monitoring, played locally: a Prometheus (Debian's) that scrapes what the chart's
ServiceMonitor and PodMonitor name and evaluates its PrometheusRule (`make up PROMETHEUS=1`).

Where the Prometheus Operator would turn the monitors into scrape jobs, this does, with the same
job names (a ServiceMonitor's: its Service's name; a PodMonitor's: <namespace>/<name>) and the
same `namespace` label, so the dashboard's queries and the alerts' expressions run unchanged. What
differs: targets are the local servers' ports, and scrapes and rule evaluations happen every
SCRAPE_INTERVAL instead of the chart's 30 s, so a person (or a test) sees traffic at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dmr_tools.paths import PROMETHEUS

from . import pods
from .console import StackError

SCRAPE_INTERVAL = "5s"
NAME = "prometheus"


def _one(objects: pods.Objects, kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    if len(found) != 1:
        raise StackError(f"the chart rendered {len(found)} {kind}s; the local Prometheus needs exactly one")
    return found[0]


def scrape_jobs(objects: pods.Objects, namespace: str, ports: dict[str, int], key_file: Path) -> list[dict]:
    service_monitor = _one(objects, "ServiceMonitor")
    [proxy] = service_monitor["spec"]["endpoints"]
    services = [
        o
        for o in objects
        if o["kind"] == "Service"
        and service_monitor["spec"]["selector"]["matchLabels"].items() <= o["metadata"]["labels"].items()
    ]
    if len(services) != 1:
        raise StackError(f"the ServiceMonitor selects {len(services)} Services; expected the proxy's")
    pod_monitor = _one(objects, "PodMonitor")
    [vllm] = pod_monitor["spec"]["podMetricsEndpoints"]
    labels = {"namespace": namespace}
    return [
        {
            "job_name": services[0]["metadata"]["name"],
            "metrics_path": proxy["path"],
            "authorization": {"type": proxy["authorization"]["type"], "credentials_file": str(key_file)},
            "static_configs": [{"targets": [f"127.0.0.1:{ports['litellm']}"], "labels": labels}],
        },
        {
            "job_name": f"{namespace}/{pod_monitor['metadata']['name']}",
            "metrics_path": vllm["path"],
            "static_configs": [{"targets": [f"127.0.0.1:{ports['vllm']}"], "labels": labels}],
        },
    ]


def local_process(
    objects: pods.Objects, namespace: str, ports: dict[str, int], master_key: str, folder: Path
) -> pods.LocalProcess:
    if not PROMETHEUS.exists():
        raise StackError(f"{PROMETHEUS} is missing: `make setup` installs Debian's prometheus package")
    config_file, rules_file, key_file = (
        folder / "prometheus.yml",
        folder / "rules.yaml",
        folder / "master-key",
    )
    # The key the ServiceMonitor takes from the Secret, in a file only this user reads.
    folder.mkdir(parents=True, exist_ok=True)
    key_file.touch(mode=0o600)
    key_file.write_text(master_key, encoding="utf-8")
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(rules_file)],
        "scrape_configs": scrape_jobs(objects, namespace, ports, key_file),
    }
    rules = {"groups": _one(objects, "PrometheusRule")["spec"]["groups"]}
    port = ports[NAME]
    return pods.LocalProcess(
        NAME,
        [
            str(PROMETHEUS),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={folder / 'data'}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        {},
        port,
        "/-/ready",
        [folder / "data"],
        {
            config_file: yaml.safe_dump(config, sort_keys=False),
            rules_file: yaml.safe_dump(rules, sort_keys=False),
        },
    )
