"""Live reload of the routes file: edits take effect, broken edits keep the last good routes."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest

from dynamic_model_router.log import LOGGER_NAME
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, RoutesError, load_routes
from dynamic_model_router.runtime import live_routes
from dynamic_model_router.runtime.live_routes import LiveRoutes

MEDICAL = [{"role": "user", "content": "My toddler has a high fever and a rash, what should I do?"}]


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    # Same-second edits on coarse filesystems would keep the mtime; the size changes anyway.
    os.utime(path, ns=(time.time_ns(), time.time_ns()))


async def decide_after_refresh(live: LiveRoutes) -> str:
    live.refresh()
    if live._reload_task is not None:
        await live._reload_task
    return (await live.decider.adecide(MEDICAL)).model


@pytest.fixture
def routes_file(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    shutil.copyfile(DEFAULT_ROUTES_FILE, path)
    return path


def test_an_edit_changes_routing_without_a_restart(routes_file: Path):
    live = LiveRoutes(routes_file, check_interval_s=0)
    assert asyncio.run(decide_after_refresh(live)) == "doctor"
    edit(routes_file, "    model: doctor\n", "    model: dcot\n")
    assert asyncio.run(decide_after_refresh(live)) == "dcot"


def test_a_broken_edit_keeps_the_last_good_routes_serving(routes_file: Path, caplog):
    live = LiveRoutes(routes_file, check_interval_s=0)
    routes_file.write_text("routes: [\n  - name: doctor\n", encoding="utf-8")
    with caplog.at_level("ERROR", logger=LOGGER_NAME):
        assert asyncio.run(decide_after_refresh(live)) == "doctor"
    assert "routes reload failed, keeping the last good routes" in caplog.text


def test_a_file_caught_half_written_is_loaded_only_once_whole(routes_file: Path, tmp_path: Path, monkeypatch):
    live = LiveRoutes(routes_file, check_interval_s=0)
    whole = routes_file.read_text(encoding="utf-8").replace("    model: doctor\n", "    model: dcot\n")
    # What a reader can see while an editor writes the file in place: a first part that parses.
    half = whole[: whole.index("  - name: dcot")]
    (tmp_path / "half.yaml").write_text(half, encoding="utf-8")
    assert [r.name for r in load_routes(tmp_path / "half.yaml").routes] == ["doctor"]
    routes_file.write_text(half, encoding="utf-8")
    # The writer finishes while the reload waits for the file to be still.
    monkeypatch.setattr(live_routes.time, "sleep", lambda _: routes_file.write_text(whole, encoding="utf-8"))
    assert asyncio.run(decide_after_refresh(live)) == "doctor"
    assert [r.name for r in live.config.routes] == ["doctor", "dcot", "general"], "the half file was loaded"
    monkeypatch.undo()
    assert asyncio.run(decide_after_refresh(live)) == "dcot", "the whole file was not loaded after it"


def test_a_deleted_file_keeps_the_last_good_routes_serving(routes_file: Path):
    live = LiveRoutes(routes_file, check_interval_s=0)
    routes_file.unlink()
    assert asyncio.run(decide_after_refresh(live)) == "doctor"


def test_an_invalid_file_at_start_up_fails_loudly(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text("virtual_model: auto\n", encoding="utf-8")
    with pytest.raises(RoutesError, match="default_model|routes"):
        LiveRoutes(path)


def test_checks_are_throttled_to_the_check_interval(routes_file: Path):
    live = LiveRoutes(routes_file, check_interval_s=3600)
    edit(routes_file, "    model: doctor\n", "    model: dcot\n")
    assert asyncio.run(decide_after_refresh(live)) == "doctor"


SERVED = {"auto", "phi2", "doctor", "dcot"}


def test_an_edit_to_a_model_the_proxy_does_not_serve_keeps_the_last_good_routes(routes_file: Path, caplog):
    live = LiveRoutes(routes_file, check_interval_s=0, served_models=lambda: SERVED)
    edit(routes_file, "    model: doctor\n", "    model: docter\n")
    with caplog.at_level("ERROR", logger=LOGGER_NAME):
        assert asyncio.run(decide_after_refresh(live)) == "doctor"
    assert "route 'doctor' sends to model 'docter', which this proxy does not serve" in caplog.text
    edit(routes_file, "    model: docter\n", "    model: dcot\n")
    assert asyncio.run(decide_after_refresh(live)) == "dcot", "the next good edit was not picked up"


def test_models_are_not_checked_while_the_proxy_does_not_know_them_yet(routes_file: Path):
    live = LiveRoutes(routes_file, check_interval_s=0, served_models=lambda: None)
    edit(routes_file, "    model: doctor\n", "    model: docter\n")
    assert asyncio.run(decide_after_refresh(live)) == "docter"
