"""ASGI helpers of the middlewares: read a request body once, hand it on again."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import Message, Receive

__all__ = ["BodyTooLarge", "read_body", "replay"]


class BodyTooLarge(Exception):
    """The body went past the limit it was read with."""


async def read_body(receive: Receive, *, limit: int | None = None) -> bytes:
    """The whole request body (what arrived before a disconnect).

    Raises:
        BodyTooLarge: More than ``limit`` bytes arrived (the rest is not read).
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` giving ``body`` in one message, then the real channel's."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again
