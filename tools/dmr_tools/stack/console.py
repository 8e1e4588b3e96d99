"""What the launcher tells the person running it: progress lines, and errors they can fix."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class StackError(Exception):
    """A problem the person running the stack can fix; the message says how."""


def say(message: str) -> None:
    print(message, flush=True)


def timed(label: str, action: Callable[[], Any]) -> Any:
    say(f"==> {label}")
    started = time.monotonic()
    result = action()
    say(f"    done in {time.monotonic() - started:.1f} s")
    return result
