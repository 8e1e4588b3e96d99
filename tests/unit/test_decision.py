"""A decision and its reasons: one enum, documented where operators read it, carried through the
request's metadata without loss."""

from __future__ import annotations

import json
import re

from dmr_tools.paths import ROOT
from dynamic_model_router.decide.decision import METADATA_KEY, Decision, Reason

OPERATIONS = ROOT / "docs" / "operations.md"


def test_every_reason_is_documented_with_its_meaning_and_nothing_else_is():
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", OPERATIONS.read_text(encoding="utf-8"), re.M))
    assert rows == {str(reason): reason.meaning for reason in Reason}, (
        f"docs/operations.md's reasons table differs from decision.Reason: {rows}"
    )


def test_a_decision_survives_the_trip_through_request_metadata_as_plain_json():
    decision = Decision(model="doctor", route="doctor", score=0.51234, reason=Reason.STICKY, latency_ms=5.5)
    metadata = json.loads(json.dumps({METADATA_KEY: decision.to_metadata()}))
    assert Decision.from_request({"metadata": metadata}) == decision


def test_requests_the_router_did_not_decide_have_no_decision():
    for data in ({}, {"metadata": None}, {"metadata": {METADATA_KEY: "x"}}, ["not a dict"]):
        assert Decision.from_request(data) is None, data
