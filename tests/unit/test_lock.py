"""The LiteLLM image's lock file: pyproject.toml's pins, every package hash-checked, and what the
tests run."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

from dmr_tools.paths import IMAGES, ROOT

LOCK = IMAGES / "litellm" / "requirements.lock"


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{package: (version, hashes)} of a pip requirements file with --hash options."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    for line in text.splitlines():
        if match := re.match(r"([A-Za-z0-9_.\-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)", line):
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            entries[name] = (match.group(2), re.findall(r"[0-9a-f]{64}", match.group(3)))
    return entries


def test_every_locked_package_is_pinned_with_at_least_one_hash():
    for path in (LOCK,):
        entries = locked(path)
        assert len(entries) > 100 if path == LOCK else entries, f"{path.name} lists too few packages"
        unhashed = [name for name, (_, hashes) in entries.items() if not hashes]
        assert not unhashed, f"{path.name}: packages without --hash: {unhashed}"


def test_the_lock_satisfies_every_dependency_in_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    entries = locked(LOCK)
    for dependency in map(Requirement, project["dependencies"]):
        name = re.sub(r"[-_.]+", "-", dependency.name).lower()
        assert name in entries, f"{name} is in pyproject.toml but not in the lock: run `make lock`"
        assert dependency.specifier.contains(entries[name][0]), (
            f"the lock has {name}=={entries[name][0]}, pyproject.toml wants "
            f"{dependency.specifier}: run `make lock`"
        )


def test_the_tests_run_the_locked_versions():
    for name, (pinned, _) in locked(LOCK).items():
        assert version(name) == pinned, f"{name} {version(name)} is installed, the image gets {pinned}"
