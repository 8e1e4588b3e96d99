"""A person chats in Open WebUI with `auto`, in a real headless Chromium, on the stack `make up`
starts: the first screen suggests each specialist; a health question, a maths word problem and a
general request each get an answer, and vLLM's own request log proves they were served by
`doctor`, `dcot` and the base model; the person rates each answer, and the ratings export turns
the ratings into a review file; a `dcot` reply as the proxy shows it reads with its chains of thought
folded and its final answer standing out. Screenshots land in test-artifacts/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Response, expect

from dmr_tools.paths import ARTIFACTS
from dmr_tools.processes import until
from dynamic_model_router.reply.dcot import fold
from dynamic_model_router.routes_file import load_routes
from support.browser import add_user, admin_token, cap_admins_replies, open_webui_page

pytestmark = pytest.mark.e2e

# (name, question, model expected to answer, how the person rates the answer)
CHATS = [
    (
        "health",
        "My ankle is swollen and bruised since I twisted it yesterday, should I get an x-ray?",
        "doctor",
        "Good Response",
    ),
    (
        "maths",
        "A baker makes 14 loaves an hour for 6 hours and sells them at $3 each. What does she earn?",
        "dcot",
        "Bad Response",
    ),
    (
        "general",
        "Write a short friendly message inviting my neighbours to a barbecue on Saturday.",
        "phi2",
        "Good Response",
    ),
]


def feedback_saved(response: Response) -> bool:
    """Open WebUI's answer to storing a rating (a new one, or its update)."""
    return (
        "/api/v1/evaluations/feedback" in response.url and response.request.method == "POST" and response.ok
    )


def feedback_updated(response: Response) -> bool:
    """Open WebUI's answer to updating a stored rating (POST .../feedback/<id>)."""
    return feedback_saved(response) and "/api/v1/evaluations/feedback/" in response.url


# The stand-in model writes a few tokens a second on CPU: without a cap of the person's own, each
# chat would run to its default length (384 tokens, dcot's 512) and the three take minutes.
REPLY_TOKENS = 32


@pytest.fixture(scope="module")
def page(stack) -> Iterator[Page]:
    """Chromium, logged in to Open WebUI as the admin `make up` printed, replies capped."""
    assert f"Admin login: {stack.env['OPEN_WEBUI_ADMIN_EMAIL']} / " in stack.output, stack.output
    cap_admins_replies(stack.env, REPLY_TOKENS)
    with open_webui_page(stack.env) as page:
        yield page


def test_a_new_users_first_screen_suggests_each_specialist_and_no_release_notes_get_in_the_way(stack):
    # An account made now logs in for the first time: Open WebUI would show its release notes,
    # unless the chart's DEFAULT_INTERFACE_SETTINGS turned them off.
    with open_webui_page(stack.env, add_user(stack.env, "newcomer")) as page:
        expect(page.locator("#chat-input")).to_be_visible()
        for route in load_routes().routes:
            suggestion = page.get_by_role("button").filter(has_text=route.utterances[0])
            expect(suggestion).to_be_visible()
            expect(suggestion).to_contain_text(f"answered by {route.model}")
        expect(page.get_by_text("auto", exact=True).first).to_be_visible()
        assert page.get_by_role("button", name=re.compile("Okay, Let's Go!")).count() == 0, (
            "the release-notes dialog opened on a new user's first login"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "open-webui-first-screen.png"))


@pytest.fixture(scope="module")
def rated(page: Page, stack, vllm, proxy) -> dict[str, list[str]]:
    """Each of CHATS asked of `auto` in Open WebUI, answered, and rated by the person: the models
    vLLM served each one with. The chat test and the export test both read it, so either passes
    alone and in any order."""
    return {
        name: chat_and_rate(page, stack, vllm, proxy, name, question, expected, rating)
        for name, question, expected, rating in CHATS
    }


@pytest.mark.parametrize(("name", "expected"), [(c[0], c[2]) for c in CHATS], ids=[c[0] for c in CHATS])
def test_a_chat_with_auto_in_open_webui_is_answered_by_the_routed_model_and_rated(
    rated: dict[str, list[str]], name: str, expected: str
):
    assert rated[name] == [expected], (
        f"Open WebUI's {name} chat was served by {rated[name]}, expected {expected}"
    )


def chat_and_rate(
    page: Page, stack, vllm, proxy, name: str, question: str, expected: str, rating: str
) -> list[str]:
    """One chat in the browser: sent, answered with the router's status line, rated with a reason."""
    page.goto(stack.env["OPEN_WEBUI_URL"])  # a new chat each time
    expect(page.locator("#model-selector-model-button")).to_contain_text("auto")
    offset = len(vllm.log.text())
    page.fill("#chat-input", question)
    page.click("#send-message-button")

    served = until(
        "a request reached vLLM after sending the chat",
        lambda: vllm.served(since=offset),
        timeout_s=90,
        detail=proxy.log.tail,
    )
    # The person's own Max Tokens reached the model, over the route's default (dcot's 512).
    uncapped = [line for line, _ in served if f"max_tokens={REPLY_TOKENS}," not in line]
    assert not uncapped, f"vLLM was asked for another length than the person's {REPLY_TOKENS}: {uncapped}"

    # The person sees who answered, and an answer: the router's status line, then the reply text.
    expect(page.get_by_text(f"Answered by {expected}")).to_be_visible(timeout=90_000)
    reply = page.locator("#response-content-container").last
    expect(reply).to_have_text(re.compile(r"\w{3,}"), timeout=120_000)
    # Generation is over when the answer's action buttons (Regenerate among them) appear.
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible(timeout=120_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"open-webui-{name}.png"))
    # The person rates the answer: the thumbs under it, then a reason, as Open WebUI asks. Open
    # WebUI (0.12) stores the rating, shows the reasons, asks for the rating's tags (none here:
    # tag generation is off) and then updates the rating with them, from an annotation that may
    # predate the reason: a reason saved around then was sometimes lost. The reason waits for it.
    with page.expect_response(feedback_updated, timeout=120_000):
        page.get_by_role("button", name=rating).last.click()
    expect(page.get_by_text("How would you rate this response?")).to_be_visible()
    reason = page.get_by_role(
        "button", name="Not helpful" if rating == "Bad Response" else "Accurate information"
    )
    reason.click()
    expect(reason).to_have_class(re.compile(r"(^|\s)bg-gray-100(\s|$)"))  # shown as chosen
    with page.expect_response(feedback_saved):
        page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Thanks for your feedback!")).to_be_visible()
    return [model for _, model in served]


def test_the_ratings_export_holds_each_rated_answer_with_the_model_that_gave_it(
    stack, rated: dict[str, list[str]], tmp_path: Path
):
    token = admin_token(stack.env)
    review = tmp_path / "review.jsonl"
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "dynamic_model_router.training.ratings",
            "--url",
            stack.env["OPEN_WEBUI_URL"],
            "-o",
            str(review),
        ],
        env={**os.environ, "OPEN_WEBUI_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    rows = {row["messages"][-1]["content"]: row for row in map(json.loads, review.read_text().splitlines())}
    assert set(rows) == {question for _, question, _, _ in CHATS}, f"{exported.stdout}\n{rows}"
    for _, question, expected, rating in CHATS:
        row = rows[question]
        assert row["answered_by"] == expected, row
        if rating == "Good Response":
            assert (row["rating"], row["route"]) == (1, expected), row
        else:
            assert (row["rating"], row["route"]) == (-1, None), row
    # The reason each person gave is the one Open WebUI stored with the rating.
    stored = httpx.get(
        f"{stack.env['OPEN_WEBUI_URL']}/api/v1/evaluations/feedbacks/all/export",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ).json()
    reasons = {f["meta"]["message_id"]: f["data"].get("reason") for f in stored}
    assert {row["message_id"]: row["reason"] for row in rows.values()} == reasons
    assert "not_helpful" in reasons.values(), f"no reason reached Open WebUI: {reasons}"
    assert "1 thumbs down to mark" in exported.stdout, exported.stdout


# A reply in the dcot card's format (the stand-in adapter here cannot write one), as the proxy shows it.
DCOT_QUESTION = "A train leaves at 3 pm and the trip takes 2.5 hours. When does it arrive?"
DCOT_REPLY = (
    "[Answer 1] 2.5 hours is 2 hours and 30 minutes; 3 pm plus that is 5:30 pm.\n"
    "[Answer 2] Counting on: 4 pm, 5 pm, then half an hour more, 5:30 pm.\n"
    "[Final answer] It arrives at 5:30 pm."
)


def saved_chat(stack, question: str, reply: str) -> str:
    """A chat with `auto` holding one question and this reply, stored through Open WebUI's API."""
    base = f"{stack.env['OPEN_WEBUI_URL']}/api/v1"
    token = admin_token(stack.env)
    asked = {"id": "q1", "parentId": None, "childrenIds": ["a1"], "role": "user", "content": question}
    answered = {"id": "a1", "parentId": "q1", "childrenIds": [], "role": "assistant", "content": reply}
    answered |= {"model": "auto", "done": True}
    chat = {
        "title": "dcot reply",
        "models": ["auto"],
        "messages": [asked, answered],
        "history": {"messages": {"q1": asked, "a1": answered}, "currentId": "a1"},
    }
    saved = httpx.post(
        f"{base}/chats/new", headers={"Authorization": f"Bearer {token}"}, json={"chat": chat}, timeout=60
    )
    assert saved.status_code == 200, (
        f"Open WebUI did not store the chat: {saved.status_code} {saved.text[:200]}"
    )
    return saved.json()["id"]


def test_a_dcot_reply_reads_with_its_chains_folded_and_its_final_answer_standing_out(page: Page, stack):
    chat_id = saved_chat(stack, DCOT_QUESTION, fold(DCOT_REPLY))
    page.goto(f"{stack.env['OPEN_WEBUI_URL']}/c/{chat_id}")
    reply = page.locator("#response-content-container").last
    expect(reply.get_by_text("It arrives at 5:30 pm.")).to_be_visible()
    expect(reply.get_by_text("Final answer:")).to_be_visible()
    expect(reply.get_by_text("Chains of thought")).to_be_visible()
    chain = reply.get_by_text("Counting on: 4 pm, 5 pm")
    expect(chain).to_be_hidden()
    expect(reply).not_to_contain_text("[Answer")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "open-webui-dcot-folded.png"))
    reply.get_by_text("Chains of thought").click()
    expect(chain).to_be_visible()
