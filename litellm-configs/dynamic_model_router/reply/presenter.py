"""A model's replies shown the way its routes file says (`prompts.<model>.reply`), streamed or not.

The model that really answered decides (the one LiteLLM fell back to, if any). A client that sends
RAW_HEADER with the value RAW gets every reply as the model wrote it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from dynamic_model_router.reply.dcot import DcotFolder

RAW_HEADER = "x-semantic-route-reply"
RAW = "raw"

Folder = Callable[[], DcotFolder]
FOLDERS: dict[str, Folder] = {"dcot": DcotFolder}


def folder_for(reply: str) -> Folder | None:
    """How replies of this kind are folded, or None for those shown as they come."""
    return FOLDERS.get(reply)


def present_response(response: Any, reply: str) -> None:
    """Fold every choice of a whole (non-streamed) chat response in place."""
    new_folder = folder_for(reply)
    if new_folder is None:
        return
    for choice in getattr(response, "choices", None) or []:
        message = getattr(choice, "message", None)
        if message is not None and isinstance(message.content, str):
            folder = new_folder()
            message.content = folder.feed(message.content) + folder.close()


def _deltas(chunk: Any) -> list[Any]:
    return [c for c in getattr(chunk, "choices", None) or [] if getattr(c, "delta", None) is not None]


async def present_stream(chunks: AsyncIterator[Any], new_folder: Folder) -> AsyncIterator[Any]:
    """The chunks of a streamed chat response, their text folded choice by choice. The last chunk
    of each choice is held until the next one comes, so what a folder still holds at the end goes
    into it, in order."""
    folders: dict[int, DcotFolder] = {}
    held: Any = None

    def flush_into(chunk: Any) -> None:
        for choice in _deltas(chunk):
            folder = folders.pop(choice.index, None)
            rest = folder.close() if folder is not None else ""
            choice.delta.content = (choice.delta.content or "") + rest

    async for chunk in chunks:
        deltas = _deltas(chunk)
        for choice in deltas:
            if choice.index not in folders:
                folders[choice.index] = new_folder()
            folder = folders[choice.index]
            text = choice.delta.content
            if isinstance(text, str):
                choice.delta.content = folder.feed(text)
        if not deltas:
            if held is not None:
                flush_into(held)
                yield held
                held = None
            yield chunk
            continue
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        flush_into(held)
        yield held
