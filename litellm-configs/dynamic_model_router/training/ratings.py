"""Users' ratings in Open WebUI, turned into routing data an operator reviews.

    OPEN_WEBUI_TOKEN=<an admin's API key> python -m dynamic_model_router.training.ratings \
        --url URL -o review.jsonl

It reads every thumbs up and down from Open WebUI's own API (the admin's feedback export,
which holds each rated chat as it was) and writes one row per rated answer: the conversation up
to the question that was answered, the model that answered it (from the router's "Answered by"
line), the rating, and the reason and comment the person gave. A thumbs up marks `route` with
the model that answered; a thumbs down leaves it null for the operator to mark (the model that
should have answered, or the same one if the routing was right and the answer was not). Nothing
is sent anywhere: run it where the prompts may be, inside the cluster (an OpenShift AI workbench
in the project, say) or against a port-forward. Standard library only.

The reviewed file is labelled data: `python -m dynamic_model_router.training.evaluate review.jsonl`
measures the routes on it, `make train EXAMPLES=review.jsonl` trains the encoder on its single
messages, and `python -m dynamic_model_router.training.propose review.jsonl` lists the messages the
routes send elsewhere than marked, as utterances to add to the marked route.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

EXPORT_PATH = "/api/v1/evaluations/feedbacks/all/export"
TOKEN_ENV = "OPEN_WEBUI_TOKEN"
ANSWERED_BY = re.compile(r"^Answered by (\S+)$")


def fetch_feedbacks(url: str, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        url.rstrip("/") + EXPORT_PATH, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def conversation(messages: dict[str, Any], answer_id: str) -> list[dict[str, str]]:
    """The user and assistant turns that led to an answer, oldest first, without the answer."""
    answer = messages.get(answer_id) or {}
    chain: list[dict[str, str]] = []
    node = messages.get(answer.get("parentId") or "")
    while node is not None:
        if node.get("role") in ("user", "assistant") and isinstance(node.get("content"), str):
            chain.append({"role": node["role"], "content": node["content"]})
        node = messages.get(node.get("parentId") or "")
    return chain[::-1]


def answered_by(message: dict[str, Any]) -> str | None:
    """The model the router's status line names ("Answered by doctor"), if the answer has one."""
    statuses = message.get("statusHistory") or ([message["status"]] if message.get("status") else [])
    for status in statuses:
        found = ANSWERED_BY.match(str((status or {}).get("description", "")))
        if found:
            return found.group(1)
    return None


def review_rows(feedbacks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """One row per rated answer (a later rating of the same answer replaces an earlier one), and
    how many ratings could not be read (no chat snapshot, or the answer is not in it)."""
    rows: dict[str, dict[str, Any]] = {}
    unreadable = 0
    for feedback in sorted(feedbacks, key=lambda f: f.get("updated_at") or 0):
        data, meta = feedback.get("data") or {}, feedback.get("meta") or {}
        if feedback.get("type") != "rating" or data.get("rating") not in (1, -1, "1", "-1"):
            continue
        chat = ((feedback.get("snapshot") or {}).get("chat") or {}).get("chat") or {}
        messages = (chat.get("history") or {}).get("messages") or {}
        message_id = str(meta.get("message_id"))
        turns = conversation(messages, message_id) if message_id in messages else []
        if not turns or turns[-1]["role"] != "user":
            unreadable += 1
            continue
        rating = int(data["rating"])
        model = answered_by(messages[message_id])
        rows[message_id] = {
            "messages": turns,
            "answered_by": model,
            "rating": rating,
            "reason": data.get("reason"),
            "comment": data.get("comment"),
            "route": model if rating > 0 else None,
            "chat_id": meta.get("chat_id"),
            "message_id": message_id,
        }
    return list(rows.values()), unreadable


def export(url: str, token: str, out: Path) -> str:
    rows, unreadable = review_rows(fetch_feedbacks(url, token))
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    down = sum(row["rating"] < 0 for row in rows)
    skipped = f"; {unreadable} ratings without their chat, left out" if unreadable else ""
    return f"wrote {out}: {len(rows)} rated answers, {down} thumbs down to mark{skipped}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamic_model_router.training.ratings", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", required=True, help="Open WebUI's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the review file to write (JSONL)")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV)
    if not token:
        parser.error(f"set {TOKEN_ENV} to an Open WebUI admin's API key or session token")
    print(export(args.url, token, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
