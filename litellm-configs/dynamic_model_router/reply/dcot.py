"""Replies in the dcot format, shown the way people read them.

The dcot adapter answers `[Answer 1] <chain of thought> [Answer 2] <chain> ... [Final answer] <answer>`
(its model card, haritzpuerto/phi-2-dcot). A person wants the answer; the chains are how the model got
there. A reply that opens with `[Answer 1]` is shown with its chains inside a folded block (markdown
`<details>`, which Open WebUI renders closed) and the final answer after it, in bold; one that does
not open with `[Answer 1]` passes unchanged. DcotFolder works on a stream: the chains stream inside
the fold and the answer after it, and text is held back only while it may still be a marker.
"""

from __future__ import annotations

import re

OPENING = "[Answer 1]"
FINAL = "[Final answer]"
_CHAIN = "[Answer "
_MARKER = re.compile(r"\[Answer (\d+)\]|\[Final answer\]")

FOLD_OPEN = "<details>\n<summary>Chains of thought</summary>\n\n"
FOLD_CLOSE = "\n\n</details>\n\n"
# How a fold ends when the reply ended before its final answer.
CUT_SHORT_CLOSE = "\n\n</details>\n"
FINAL_LABEL = "**Final answer:**"


def _chain_heading(number: str, first: bool) -> str:
    return ("" if first else "\n\n") + f"**Answer {number}:**"


def _may_become_marker(tail: str) -> bool:
    """Whether text at the end of what has come so far may be the start of a marker."""
    if FINAL.startswith(tail) or _CHAIN.startswith(tail):
        return True
    return tail.startswith(_CHAIN) and tail[len(_CHAIN) :].isdigit()


class DcotFolder:
    """Folds one reply, fed in pieces: `feed` returns the text to show now, `close` the rest."""

    def __init__(self) -> None:
        self._held = ""
        # start: not yet known; chains: inside the fold; answer and plain: everything passes.
        self._state = "start"

    def feed(self, text: str) -> str:
        if self._state in ("answer", "plain"):
            return text
        self._held += text
        if self._state == "start":
            opening = self._held.lstrip()
            if OPENING.startswith(opening):
                return ""
            if not opening.startswith(OPENING):
                self._state, shown, self._held = "plain", self._held, ""
                return shown
            self._state, self._held = "chains", opening[len(OPENING) :]
            return FOLD_OPEN + _chain_heading("1", first=True) + self._chains()
        return self._chains()

    def _chains(self) -> str:
        shown = []
        while (found := _MARKER.search(self._held)) is not None:
            shown.append(self._held[: found.start()])
            self._held = self._held[found.end() :]
            if found.group(1) is None:
                self._state = "answer"
                shown.append(FOLD_CLOSE + FINAL_LABEL + self._held)
                self._held = ""
                return "".join(shown)
            shown.append(_chain_heading(found.group(1), first=False))
        start = self._held.rfind("[")
        keep = start >= 0 and _may_become_marker(self._held[start:])
        cut = start if keep else len(self._held)
        shown.append(self._held[:cut])
        self._held = self._held[cut:]
        return "".join(shown)

    def close(self) -> str:
        """The rest, once the reply has ended: a fold never left open, nothing held back lost."""
        held, self._held = self._held, ""
        if self._state == "chains":
            self._state = "answer"
            return held + CUT_SHORT_CLOSE
        return held


def fold(reply: str) -> str:
    """A whole reply, folded (the same as streaming it through a DcotFolder)."""
    folder = DcotFolder()
    return folder.feed(reply) + folder.close()


# A folded reply: its chains, then its final answer, or the end (a reply cut short in its chains).
_FOLDED = re.compile(
    re.escape(FOLD_OPEN)
    + r"(?P<chains>.*?)(?:"
    + re.escape(FOLD_CLOSE + FINAL_LABEL)
    + r"(?P<answer>.*)|"
    + re.escape(CUT_SHORT_CLOSE)
    + r")\Z",
    re.S,
)
_HEADING = re.compile(r"(?:^|\n\n)\*\*Answer (\d+):\*\*")


def unfold(shown: str) -> str:
    """A reply as `fold` showed it, back in the model's own markers; any other text unchanged."""
    found = _FOLDED.match(shown)
    if found is None:
        return shown
    chains = _HEADING.sub(r"[Answer \1]", found["chains"])
    return chains if found["answer"] is None else chains + FINAL + found["answer"]
