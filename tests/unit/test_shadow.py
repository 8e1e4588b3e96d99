"""Shadow decisions: a candidate router decides beside the live one, off the request's path; a
broken candidate never touches live routing; promote and roll back swap what is already loaded."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import Decision, Reason
from dynamic_model_router.encoding.encoder import ENCODERS_DIR_ENV, SHIPPED_ENCODER, SHIPPED_MODEL_SHA256
from dynamic_model_router.log import LOGGER_NAME
from dynamic_model_router.observe.review_sample import REVIEW_DIR_ENV, REVIEW_MAX_MB_ENV
from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, candidate, load_routes
from dynamic_model_router.runtime.live_routes import LiveRoutes
from dynamic_model_router.runtime.shadow import Shadow
from dynamic_model_router.training.labelled import read_labelled
from support.hooks import hook_with
from support.prompts import MEDICAL, user

MATHS = "If a train leaves at 3pm going 60 mph, when does it cover 150 miles?"
# A candidate that sends nothing anywhere: every routed request disagrees with the live routes.
STRICT = {"name": "strict", "threshold": 100.0}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def shadowed(candidate: str, route: str, candidate_route: str, agree: str) -> float:
    """Shadow decisions counted so far for this pair of routes."""
    return value(
        "semantic_router_shadow_decisions_total",
        candidate=candidate,
        route=route,
        candidate_route=candidate_route,
        agree=agree,
    )


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def routes_with(tmp_path: Path, **extra: Any) -> Path:
    data = yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"))
    path = tmp_path / "routes.yaml"
    write(path, data | extra)
    return path


def reload(live: LiveRoutes, path: Path, **extra: Any) -> bool:
    data = yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"))
    write(path, data | extra)
    return live.reload()


def routed(live: LiveRoutes, text: str) -> Decision:
    """The live decision the hook makes for one message, with the shadow fed as in the proxy."""
    data = asyncio.run(
        hook_with(live.decider, shadow=live.shadow).async_pre_call_hook(
            None, None, {"model": "auto", "messages": user(text)}, "completion"
        )
    )
    return Decision.from_request(data)  # type: ignore[return-value]


@pytest.fixture
def encoders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An encoders volume holding a copy of the shipped encoder as `v2`."""
    volume = tmp_path / "encoders"
    shutil.copytree(SHIPPED_ENCODER, volume / "v2")
    monkeypatch.setenv(ENCODERS_DIR_ENV, str(volume))
    return volume


def test_a_candidate_decides_beside_the_live_routes_and_the_answer_stays_the_live_one(tmp_path: Path):
    live = LiveRoutes(routes_with(tmp_path, candidate=STRICT), check_interval_s=0)
    assert live.shadow is not None, "a candidate with shadow on (the default) gets a shadow"
    before = shadowed("strict", "doctor", "none", "no")
    decision = routed(live, MEDICAL)
    live.shadow.join(30)
    assert decision.model == "doctor", f"the live routes answer, not the candidate: {decision}"
    after = shadowed("strict", "doctor", "none", "no")
    assert after == before + 1, "the shadow decision is counted by live route and candidate route"
    assert value("semantic_router_candidate_active", candidate="strict") == 1
    assert (
        REGISTRY.get_sample_value(
            "semantic_router_shadow_decisions_total",
            {"candidate": "strict", "route": "dcot", "candidate_route": "dcot", "agree": "yes"},
        )
        == 0
    ), "every pair of routes starts at zero, so a rate shows from the first decisions"
    assert value("semantic_router_shadow_decision_seconds_count", candidate="strict") >= 1
    live.shadow.close()


def test_a_live_route_added_beside_an_unchanged_candidate_starts_its_pairs_at_zero(tmp_path: Path):
    routes = yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"))["routes"]
    # The candidate names its own routes, so a live edit of the routes leaves it as it was.
    candidate = {**STRICT, "routes": routes}
    live = LiveRoutes(routes_with(tmp_path, candidate=candidate), check_interval_s=0)
    shadow = live.shadow
    pets = {"name": "pets", "model": "phi2", "utterances": ["How often should I feed my goldfish?"]}
    assert reload(live, tmp_path / "routes.yaml", candidate=candidate, routes=[*routes, pets])
    assert live.shadow is shadow, "an unchanged candidate keeps its shadow across a live edit"
    pair = {"candidate": "strict", "route": "pets", "candidate_route": "none", "agree": "yes"}
    assert REGISTRY.get_sample_value("semantic_router_shadow_decisions_total", pair) == 0, (
        "the new live route's pairs with the candidate's routes do not start at zero"
    )
    live.shadow.close()


def test_the_shadow_log_line_carries_both_routes_and_never_the_prompt(tmp_path: Path, caplog):
    live = LiveRoutes(routes_with(tmp_path, candidate=STRICT), check_interval_s=0)
    assert live.shadow is not None
    with caplog.at_level("INFO", logger=LOGGER_NAME):
        routed(live, MEDICAL)
        live.shadow.join(30)
    [line] = [json.loads(r.message) for r in caplog.records if '"shadow_decision"' in r.message]
    assert (line["route"], line["candidate_route"], line["agree"]) == ("doctor", None, False), line
    assert MEDICAL not in caplog.text and "toddler" not in caplog.text.lower(), "a prompt reached the log"
    live.shadow.close()


@pytest.mark.parametrize(
    "broken, problem",
    [
        ({"name": "typo", "thresold": 0.2}, None),
        ({"name": "no-folder", "encoder": {"path": "nowhere"}}, "missing"),
        ({"name": "wrong-hash", "encoder": {"path": "v2", "sha256": "0" * 64}}, "sha256"),
        ({"name": "wrong-size", "encoder": {"path": "v2", "dimension": 768}}, "dimension"),
        ({"name": "virtual", "routes": [{"name": "x", "model": "auto", "utterances": ["hi"]}]}, None),
    ],
    ids=["unknown-field", "missing-encoder", "wrong-sha256", "wrong-dimension", "route-to-virtual"],
)
def test_a_broken_candidate_never_touches_live_routing(
    tmp_path: Path, encoders: Path, broken: dict[str, Any], problem: str | None, caplog
):
    path = routes_with(tmp_path)
    plain = LiveRoutes(path, check_interval_s=0)
    expected = [routed(plain, text).model for text in (MEDICAL, MATHS, "hello there")]
    rejected = value("semantic_router_encoder_rejected_total", role="candidate", problem=problem or "")
    with caplog.at_level("ERROR", logger=LOGGER_NAME):
        live = LiveRoutes(routes_with(tmp_path, candidate=broken), check_interval_s=0)
    assert live.shadow is None, "a broken candidate gets no shadow"
    assert "candidate refused" in caplog.text and "the live routes serve as ever" in caplog.text
    assert value("semantic_router_candidate_rejected") == 1
    if problem:
        after = value("semantic_router_encoder_rejected_total", role="candidate", problem=problem)
        assert after == rejected + 1, f"the encoder's problem {problem} is counted"
    assert [routed(live, text).model for text in (MEDICAL, MATHS, "hello there")] == expected
    # A live edit in the same file still applies while its candidate is broken.
    edited = yaml.safe_load(path.read_text(encoding="utf-8")) | {"candidate": broken}
    edited["routes"] = [r | {"model": "dcot"} if r["name"] == "doctor" else r for r in edited["routes"]]
    write(path, edited)
    assert live.reload(), "the live part of the file loads"
    assert routed(live, MEDICAL).model == "dcot"


def test_fixing_a_broken_candidate_starts_its_shadow_and_clears_the_rejection(tmp_path: Path):
    path = routes_with(tmp_path, candidate={"name": "fixme", "thresold": 1})
    live = LiveRoutes(path, check_interval_s=0)
    assert live.shadow is None
    assert reload(live, path, candidate=STRICT)
    assert live.shadow is not None and live.shadow.name == "strict"
    assert value("semantic_router_candidate_rejected") == 0
    live.shadow.close()


def test_a_candidate_encoder_from_the_encoders_volume_is_its_own_and_embeds_off_the_live_thread(
    tmp_path: Path, encoders: Path
):
    pinned = {"path": "v2", "sha256": SHIPPED_MODEL_SHA256}
    live = LiveRoutes(routes_with(tmp_path, candidate={"name": "v2", "encoder": pinned}), check_interval_s=0)
    assert live.shadow is not None
    assert live.shadow.decider.encoder is not live.decider.encoder, "a new encoder is loaded for it"
    assert live.shadow.decider.encoder.executor is live.shadow.executor
    assert live.decider.encoder.executor is None, "the live encoder keeps the proxy's embedding thread"
    before = shadowed("v2", "doctor", "doctor", "yes")
    routed(live, MEDICAL)
    live.shadow.join(30)
    after = shadowed("v2", "doctor", "doctor", "yes")
    assert after == before + 1, "the same encoder from the volume agrees with the shipped one"
    live.shadow.close()


def test_promoting_swaps_in_the_loaded_candidate_and_rolling_back_swaps_back(tmp_path: Path, encoders: Path):
    pinned = {"path": "v2", "sha256": SHIPPED_MODEL_SHA256}
    path = routes_with(tmp_path, candidate={"name": "v2", "encoder": pinned})
    live = LiveRoutes(path, check_interval_s=0)
    assert live.shadow is not None
    old_live, candidate_decider = live.decider, live.shadow.decider
    shipped = {"model": "sentence-transformers/all-MiniLM-L6-v2", "threads": 1}
    # Promote: the candidate's encoder becomes the live one; the old one stays named, shadowing.
    assert reload(
        live, path, encoder=pinned | {"threads": 1}, candidate={"name": "shipped", "encoder": shipped}
    )
    assert live.decider is candidate_decider, "promoting reuses the candidate's decider: nothing reloads"
    assert live.decider.encoder.executor is None, "the promoted encoder embeds on the proxy's thread"
    assert live.shadow is not None and live.shadow.decider is old_live, "the old live one shadows it"
    assert routed(live, MEDICAL).model == "doctor"
    # Roll back: the same swap the other way.
    assert reload(live, path, candidate={"name": "v2", "encoder": pinned | {"threads": 1}})
    assert live.decider is old_live and live.shadow.decider is candidate_decider
    live.shadow.close()


def test_a_candidate_kept_for_rollback_with_shadow_off_decides_nothing(tmp_path: Path):
    live = LiveRoutes(routes_with(tmp_path, candidate=STRICT | {"shadow": False}), check_interval_s=0)
    assert live.shadow is None
    assert candidate(live.config) is not None, "it is still checked and named"


class Blocked:
    """A decider whose decisions wait until released: a candidate slower than the traffic."""

    def __init__(self) -> None:
        self.release = threading.Event()

    async def adecide(self, messages: Any) -> Decision:
        await asyncio.to_thread(self.release.wait, 30)
        return Decision("phi2", None, None, Reason.FALLBACK)


def test_a_busy_shadow_drops_work_and_counts_it_instead_of_delaying_a_request(tmp_path: Path):
    found = candidate(load_routes(routes_with(tmp_path, candidate={"name": "slow"})))
    assert found is not None
    blocked = Blocked()
    shadow = Shadow(found, blocked, queue_size=2)  # type: ignore[arg-type]
    live = Decision("doctor", "doctor", 3.0, Reason.ROUTE)
    busy = value("semantic_router_shadow_dropped_total", candidate="slow", reason="busy")
    started = time.perf_counter()
    for _ in range(10):
        shadow.submit(user(MEDICAL), live)
    waited = time.perf_counter() - started
    assert waited < 1.0, f"submitting to a busy shadow waited {waited:.2f} s"
    dropped = value("semantic_router_shadow_dropped_total", candidate="slow", reason="busy") - busy
    assert dropped >= 7, f"only {dropped} of 10 jobs beyond a queue of 2 were dropped and counted"
    blocked.release.set()
    shadow.close()


def test_a_job_that_waited_too_long_is_dropped_as_late(tmp_path: Path):
    found = candidate(load_routes(routes_with(tmp_path, candidate={"name": "late"})))
    assert found is not None
    decider = RouteDecider(found.config)
    shadow = Shadow(found, decider, max_wait_s=-1)
    late = value("semantic_router_shadow_dropped_total", candidate="late", reason="late")
    shadow.submit(user(MEDICAL), Decision("doctor", "doctor", 3.0, Reason.ROUTE))
    shadow.join(30)
    assert value("semantic_router_shadow_dropped_total", candidate="late", reason="late") == late + 1
    shadow.close()


def test_a_shadow_decides_nothing_while_live_requests_keep_coming_and_drops_them_as_late(tmp_path: Path):
    found = candidate(load_routes(routes_with(tmp_path, candidate={"name": "polite"})))
    assert found is not None
    shadow = Shadow(found, RouteDecider(found.config), max_wait_s=0.3, quiet_s=0.05)
    live = Decision("doctor", "doctor", 3.0, Reason.ROUTE)
    late = value("semantic_router_shadow_dropped_total", candidate="polite", reason="late")
    decided = shadowed("polite", "doctor", "doctor", "yes")
    for _ in range(60):  # a live request every 10 ms for 0.6 s: never 50 ms of quiet
        shadow.submit(user(MEDICAL), live)
        time.sleep(0.01)
    made = shadowed("polite", "doctor", "doctor", "yes") - decided
    assert made == 0, f"the shadow decided {made} times while live requests kept coming"
    assert value("semantic_router_shadow_dropped_total", candidate="polite", reason="late") > late
    shadow.join(5)
    after = shadowed("polite", "doctor", "doctor", "yes") - decided
    assert after >= 1, "once the live router is quiet, the jobs still young enough are decided"
    shadow.close()


def test_disagreements_go_to_the_review_sample_in_the_review_format_until_its_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    review = tmp_path / "review"
    review.mkdir()
    monkeypatch.setenv(REVIEW_DIR_ENV, str(review))
    monkeypatch.setenv(REVIEW_MAX_MB_ENV, "0.001")  # about two rows
    live = LiveRoutes(routes_with(tmp_path, candidate=STRICT | {"review": True}), check_interval_s=0)
    assert live.shadow is not None and live.shadow.review is not None
    for _ in range(6):
        routed(live, MEDICAL)
    routed(live, "hello there")  # the base model answers both ways: agreement, not written
    live.shadow.join(30)
    [sample] = review.glob("strict-*.jsonl")
    rows = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines()]
    assert 1 <= len(rows) < 6 and sample.stat().st_size <= 1024 * 1.024 + 1, "the cap stops the sample"
    assert rows[0]["messages"] == user(MEDICAL) and rows[0]["route"] is None
    assert rows[0]["live"] == {"route": "doctor", "model": "doctor"}
    assert rows[0]["candidate"] == {"name": "strict", "route": None, "model": "phi2"}
    assert read_labelled(sample).unlabelled == len(rows), "the review tools read it as rows to mark"
    assert value("semantic_router_review_sample_rows_total", candidate="strict", result="full") >= 1
    live.shadow.close()


def test_review_asked_without_a_review_volume_writes_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
):
    monkeypatch.delenv(REVIEW_DIR_ENV, raising=False)
    with caplog.at_level("WARNING", logger=LOGGER_NAME):
        live = LiveRoutes(routes_with(tmp_path, candidate=STRICT | {"review": True}), check_interval_s=0)
    assert live.shadow is not None and live.shadow.review is None
    assert "review_sample_off" in caplog.text
    live.shadow.close()


@pytest.mark.parametrize(
    "encoder, problem",
    [
        ({"path": "nowhere"}, "missing"),
        ({"path": "v2", "sha256": "0" * 64}, "sha256"),
        ({"path": "v2", "dimension": 768}, "dimension"),
        ({"path": "garbled"}, "unreadable"),
    ],
    ids=["missing", "wrong-sha256", "wrong-dimension", "unreadable"],
)
def test_a_live_encoder_swap_that_cannot_load_is_refused_counted_and_the_last_good_one_serves(
    tmp_path: Path, encoders: Path, encoder: dict[str, Any], problem: str, caplog
):
    garbled = encoders / "garbled"
    shutil.copytree(encoders / "v2", garbled)
    (garbled / "model.onnx").write_bytes(b"not an onnx model")
    path = routes_with(tmp_path)
    live = LiveRoutes(path, check_interval_s=0)
    serving = live.decider
    before = value("semantic_router_encoder_rejected_total", role="live", problem=problem)
    with caplog.at_level("ERROR", logger=LOGGER_NAME):
        assert not reload(live, path, encoder=encoder), "a reload naming an unusable encoder is refused"
    assert live.decider is serving, "the last good encoder keeps serving"
    assert value("semantic_router_encoder_rejected_total", role="live", problem=problem) == before + 1
    assert "routes reload failed, keeping the last good routes" in caplog.text
    assert routed(live, MEDICAL).model == "doctor"
