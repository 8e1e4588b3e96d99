"""One sample message per route of the default routes, in the words people use, and a helper
for the chat messages that carry one. A test that needs a particular phrasing says why beside it."""

from __future__ import annotations

from typing import Any

MEDICAL = "I have had a painful swollen knee for a week and it is warm to the touch, what could it be?"
MATHS = "A farmer sells 36 eggs a day at $0.25 each. How much money does he make in a week?"
GENERAL = "Hey! Can you suggest a fun name for my new puppy?"
# Each sample with the model the default routes send it to.
BY_MODEL = {"doctor": MEDICAL, "dcot": MATHS, "phi2": GENERAL}


def user(text: str = MEDICAL) -> list[dict[str, Any]]:
    """A one-turn conversation."""
    return [{"role": "user", "content": text}]
