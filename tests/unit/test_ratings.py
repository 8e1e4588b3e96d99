"""Open WebUI's ratings as a review file (training.ratings), the review file as labelled data
(training.labelled), and the utterances it proposes (training.propose), all in
dynamic_model_router.training."""

from __future__ import annotations

import json
from pathlib import Path

from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE
from dynamic_model_router.training.labelled import read_labelled
from dynamic_model_router.training.propose import proposals
from dynamic_model_router.training.ratings import review_rows
from support.prompts import MEDICAL


def feedback(
    rating: int, question: str, answer_status: str | None, updated: int = 1, chat: str = "c1", **data
) -> dict:
    """One rating as Open WebUI's admin export holds it: the rated chat as it was, in a snapshot."""
    answer = {"id": f"{chat}-a2", "parentId": "u2", "role": "assistant", "content": "...", "model": "auto"}
    if answer_status:
        answer["statusHistory"] = [{"description": answer_status, "done": True}]
    messages = {
        "u1": {"id": "u1", "parentId": None, "role": "user", "content": "Hello there"},
        "a1": {"id": "a1", "parentId": "u1", "role": "assistant", "content": "Hi! How can I help?"},
        "u2": {"id": "u2", "parentId": "a1", "role": "user", "content": question},
        answer["id"]: answer,
    }
    return {
        "type": "rating",
        "updated_at": updated,
        "data": {"rating": rating, "model_id": "auto", **data},
        "meta": {"chat_id": chat, "message_id": answer["id"]},
        "snapshot": {
            "chat": {"id": chat, "chat": {"history": {"messages": messages, "currentId": answer["id"]}}}
        },
    }


def test_a_rated_answer_becomes_its_conversation_the_model_that_answered_and_the_rating():
    rows, unreadable = review_rows(
        [feedback(1, MEDICAL, "Answered by doctor", reason="accurate_information")]
    )
    assert unreadable == 0
    [row] = rows
    assert [m["content"] for m in row["messages"]] == ["Hello there", "Hi! How can I help?", MEDICAL]
    assert (row["answered_by"], row["rating"], row["route"]) == ("doctor", 1, "doctor")
    assert row["reason"] == "accurate_information"


def test_a_thumbs_down_waits_for_the_operator_to_mark_the_right_model():
    [row], _ = review_rows(
        [feedback(-1, MEDICAL, "Answered by phi2", reason="not_helpful", comment="wrong one")]
    )
    assert (row["answered_by"], row["rating"], row["route"], row["comment"]) == (
        "phi2",
        -1,
        None,
        "wrong one",
    )


def test_a_later_rating_of_the_same_answer_replaces_the_earlier_one():
    rows, _ = review_rows(
        [feedback(-1, MEDICAL, "Answered by doctor", updated=2), feedback(1, MEDICAL, None)]
    )
    assert [row["rating"] for row in rows] == [-1], "the rating updated last must win"


def test_ratings_without_their_chat_are_counted_and_other_feedback_is_ignored():
    no_chat = {**feedback(1, MEDICAL, "Answered by doctor"), "snapshot": None}
    arena = {**feedback(1, MEDICAL, "Answered by doctor"), "type": "arena"}
    rows, unreadable = review_rows([no_chat, arena])
    assert (rows, unreadable) == ([], 1)


def test_unmarked_rows_of_a_review_file_are_left_out_of_the_labelled_data(tmp_path: Path):
    rows, _ = review_rows(
        [feedback(1, MEDICAL, "Answered by doctor"), feedback(-1, "Hi", "Answered by phi2", chat="c2")]
    )
    review = tmp_path / "review.jsonl"
    review.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    labelled = read_labelled(review)
    assert (len(labelled.items), labelled.unlabelled) == (1, 1)
    assert labelled.items[0].expected == "doctor" and labelled.items[0].user_turns[-1] == MEDICAL


def test_marked_messages_the_routes_send_elsewhere_are_proposed_as_utterances_of_the_marked_route(
    tmp_path: Path,
):
    review = tmp_path / "review.jsonl"
    lines = [
        {"text": MEDICAL, "route": "dcot"},  # marked for another model than the routes pick
        {"text": MEDICAL, "route": "doctor"},  # already right
        {
            "messages": [{"role": "user", "content": "2+2?"}, {"role": "user", "content": "and 3?"}],
            "route": "phi2",
        },
        {"text": "unmarked", "route": None},
    ]
    review.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert proposals(review, DEFAULT_ROUTES_FILE) == {"dcot": [MEDICAL]}
