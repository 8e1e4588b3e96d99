"""podman with the project's settings (images/podman-containers.conf), never the machine's own."""

from __future__ import annotations

import os
import subprocess

from dmr_tools.paths import IMAGES

CONTAINERS_CONF = IMAGES / "podman-containers.conf"
# What `make images` builds (see the Makefile).
LITELLM_IMAGE = "localhost/dmr-litellm:dev"
MODELCAR_IMAGE = "localhost/dmr-modelcar:dev"


def podman(*args: str, timeout_s: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args],
        env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result
