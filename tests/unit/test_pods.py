"""The local stack's translation of a rendered container into a local process (stack/pods.py):
only the documented swaps, each at its boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmr_tools.stack import pods


def test_mount_paths_and_service_urls_are_swapped_only_at_their_boundaries():
    paths = {"/mnt/models": Path("/m"), "/mnt/models/adapters": Path("/a"), "/tmp": Path("/t")}
    urls = {"svc.ns.svc.cluster.local": "http://127.0.0.1:9"}
    assert pods.localize("--model=/mnt/models", paths, urls) == "--model=/m"
    assert pods.localize("doctor=/mnt/models/adapters/doctor", paths, urls) == "doctor=/a/doctor"
    assert pods.localize("/tmp/hf_home", paths, urls) == "/t/hf_home"
    in_tmp = {"/etc/config": Path("/tmp/run/config"), "/tmp": Path("/tmp/run/tmp")}
    assert pods.localize("/etc/config/c.yaml", in_tmp, {}) == "/tmp/run/config/c.yaml", "swapped twice"
    assert pods.localize("/mnt/modelsx", paths, urls) == "/mnt/modelsx", "a longer name is not a mount"
    assert pods.localize("http://svc.ns.svc.cluster.local:8080/v1", paths, urls) == "http://127.0.0.1:9/v1"
    assert pods.localize("http://svc.ns.svc.cluster.local/v1", paths, urls) == "http://127.0.0.1:9/v1"


def test_only_listen_address_port_and_gpu_memory_flags_are_swapped():
    args = ["--port=8080", "--model=/mnt/models", "--gpu-memory-utilization=0.9", "--enable-lora", "--x", "1"]
    local = pods.local_args(args, 9000, {"/mnt/models": Path("/m")}, {})
    assert local == [
        "--model=/m",
        f"--kv-cache-memory-bytes={pods.CPU_KV_CACHE_BYTES}",
        "--enable-lora",
        "--x",
        "1",
        "--host=127.0.0.1",
        "--port=9000",
    ]
    assert pods.local_args(["--host", "0.0.0.0", "--port", "4000", "--config", "c"], 1, {}, {}) == [
        "--config",
        "c",
        "--host=127.0.0.1",
        "--port=1",
    ]


def test_a_secret_the_run_directory_lacks_is_a_clear_error():
    container = {"env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    with pytest.raises(ValueError, match="env K: Secret s has no key 'k' locally"):
        pods.container_env(container, {}, {}, {})
