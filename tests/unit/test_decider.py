"""Routing decisions with the real offline encoder and the default routes."""

from __future__ import annotations

import pytest

from dynamic_model_router.decide.conversation import clean_text, user_turns
from dynamic_model_router.decide.decider import RouteDecider
from dynamic_model_router.decide.decision import Reason
from dynamic_model_router.routes_file import parse_routes


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("text", "model"),
    [
        # Patients' health questions.
        ("I've had a burning pain in my stomach after meals for two weeks, is it an ulcer?", "doctor"),
        ("Can I give my 4 year old ibuprofen for a fever of 39 degrees?", "doctor"),
        ("What are the side effects of stopping sertraline suddenly?", "doctor"),
        # Problems to work out step by step.
        ("A baker makes 48 muffins and sells them in boxes of 6 at $4 a box. How much does he earn?", "dcot"),
        ("If x squared minus 5x plus 6 equals zero, what are the values of x?", "dcot"),
        (
            "Lucy is taller than Mia and Mia is taller than Zoe. Who is the shortest? Explain step by step.",
            "dcot",
        ),
        # General chat, writing, code and trivia: the base model.
        ("Good morning! What's a fun thing to do this weekend?", "phi2"),
        ("Write a limerick about a cat who loves jazz.", "phi2"),
        ("How do I read a CSV file with pandas?", "phi2"),
        ("Who painted the Mona Lisa?", "phi2"),
    ],
)
def test_each_kind_of_message_goes_to_its_model(decider: RouteDecider, text: str, model: str):
    decision = decider.decide(ask(text))
    assert decision.model == model, f"{text!r} went to {decision}"
    if model != "phi2":
        assert decision.reason == Reason.ROUTE, f"a specialist is chosen by its route alone: {decision}"


def test_content_parts_are_read_like_plain_text(decider: RouteDecider):
    parts = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "My ankle is swollen and bruised after I twisted it,"},
        {"type": "text", "text": "should I get an x-ray?"},
    ]
    decision = decider.decide([{"role": "user", "content": parts}])
    assert decision.model == "doctor", decision


def test_latest_user_turn_decides_not_the_system_prompt_or_assistant(decider: RouteDecider):
    messages = [
        {"role": "system", "content": "You are a medical assistant. Patients ask about symptoms."},
        {"role": "user", "content": "Write a haiku about spring rain."},
    ]
    decision = decider.decide(messages)
    assert decision.model == "phi2", decision


def test_nothing_confident_falls_back_to_the_base_model(default_routes, decider):
    # A sum over top_k similarities never exceeds top_k, nor the class head's share its weight, so
    # this threshold is never reached.
    unreachable = default_routes.top_k + decider.head_weight + 1
    strict = RouteDecider(
        parse_routes({**_as_dict(default_routes), "threshold": unreachable}), decider.encoder
    )
    decision = strict.decide(ask("I have a headache and a fever"))
    assert (decision.model, decision.route, decision.reason) == ("phi2", None, Reason.FALLBACK)
    assert decision.score is not None and 0 < decision.score < unreachable


def test_follow_up_with_no_clear_topic_stays_on_the_conversations_adapter(decider: RouteDecider):
    messages = [
        {"role": "user", "content": "What is the right dose of amoxicillin for an ear infection in adults?"},
        {"role": "assistant", "content": "For adults it is usually 500 mg every 8 hours."},
        {"role": "user", "content": "and what about for a 5 year old?"},
    ]
    decision = decider.decide(messages)
    assert decision.model == "doctor", decision


def _after_a_health_question(latest: str) -> list[dict]:
    return [
        {
            "role": "user",
            "content": "I get chest tightness when I climb stairs, and my father had heart disease.",
        },
        {
            "role": "assistant",
            "content": "Please see a doctor soon; chest tightness on effort should be checked.",
        },
        {"role": "user", "content": latest},
    ]


def test_announced_topic_change_is_routed_on_its_own(decider: RouteDecider, default_routes):
    messages = _after_a_health_question("I will. Different topic, what should I watch tonight?")
    decision = decider.decide(messages)
    assert (decision.model, decision.reason) == ("phi2", Reason.TOPIC_CHANGE), decision
    # The phrase is what moved it: without topic_change_phrases the health question holds it.
    without = RouteDecider(default_routes.model_copy(update={"topic_change_phrases": ()}))
    assert without.decide(messages).model == "doctor", "this conversation no longer tests the phrases"


@pytest.mark.parametrize(
    "latest, changes",
    [
        ("ok. ON ANOTHER\n  NOTE, what should I watch tonight?", True),
        ("What should I watch tonight? Different question, I know.", True),
        ("indifferent questions aside, how long until it improves?", False),
        ("I have another question, should I take aspirin?", False),
    ],
)
def test_topic_change_phrases_match_whole_words_in_any_case(
    decider: RouteDecider, latest: str, changes: bool
):
    decision = decider.decide(_after_a_health_question(latest))
    assert (decision.reason == Reason.TOPIC_CHANGE) is changes, f"{latest!r}: {decision}"


@pytest.mark.parametrize(
    "messages",
    [
        None,
        [],
        "not a list",
        42,
        [None, 3, "x"],
        [{"role": "user"}],
        [{"role": "user", "content": None}],
        [{"role": "user", "content": 12}],
        [{"role": "user", "content": [{"type": "text", "text": None}, 5]}],
        [{"role": "user", "content": "   \n\t  "}],
        [{"role": "assistant", "content": "only the assistant spoke"}],
        [{"content": "no role"}],
    ],
)
def test_messages_without_user_text_go_to_the_base_model(decider: RouteDecider, messages: object):
    decision = decider.decide(messages)
    assert (decision.model, decision.reason) == ("phi2", Reason.NO_TEXT)


@pytest.mark.parametrize(
    "text",
    [
        "fever " * 200_000,
        "I have a cough\x00\x07\x1b[31m and chest pain",
        "lone surrogate \ud800 in my headache question \udfff",
        "\u202e\u200b" * 50 + "stomach ache",
        "😷🤒" * 500,
    ],
)
def test_hostile_text_never_raises(decider: RouteDecider, text: str):
    decision = decider.decide(ask(text))
    assert decision.model in {"phi2", "doctor", "dcot"}


def test_clean_text_keeps_a_long_texts_ends_and_strips_control_characters_and_surrogates():
    cleaned = clean_text("a\x00b\ud800c\n\nd" + "x" * 100 + "end", max_chars=11)
    assert cleaned == "a b c xxend"


def test_a_question_after_a_pasted_page_decides_the_route(decider: RouteDecider):
    notes = "Minutes: the team reviewed the quarterly roadmap, the hiring plan and the office move. " * 40
    question = (
        "Also, since this morning my left arm feels numb and heavy, the left side of my face droops "
        "when I smile, my speech is slurred and I have a sudden severe headache and blurred vision. "
        "My husband says I look grey. Is this a stroke, should I call an ambulance right now?"
    )
    first_part_only = decider.decide(ask(notes[:2000]))
    assert first_part_only.model == "phi2", f"the control: the notes alone must go to phi2: {first_part_only}"
    parts = [{"type": "text", "text": notes}, {"type": "text", "text": question}]
    for content in (notes + question, parts):
        decision = decider.decide([{"role": "user", "content": content}])
        assert decision.model == "doctor", f"a long message's last words were not read: {decision}"


def test_user_turns_are_newest_first_and_limited():
    messages = [{"role": "user", "content": str(i)} for i in range(5)]
    assert user_turns(messages, max_chars=100, limit=3) == ["4", "3", "2"]


def test_a_follow_up_carried_by_the_conversation_has_reason_sticky(decider: RouteDecider):
    messages = [
        {"role": "user", "content": "Solve step by step, a shop sells 12 pens for $3, what do 30 pens cost?"},
        {"role": "assistant", "content": "30 pens cost $7.50."},
        {"role": "user", "content": "ok and now for 45?"},
    ]
    alone = decider.decide(messages[-1:])
    assert alone.model != "dcot", f"the control: the follow-up alone must go elsewhere, went to {alone}"
    decision = decider.decide(messages)
    assert (decision.model, decision.reason) == ("dcot", Reason.STICKY), decision


def _as_dict(config) -> dict:
    return {
        "virtual_model": config.virtual_model,
        "default_model": config.default_model,
        "routes": [
            {"name": r.name, "model": r.model, "utterances": list(r.utterances)} for r in config.routes
        ],
    }
