"""One error body for every error: ``{"error": "<one line>", "detail": [...]}``.

The middleware rewrites error bodies on their way out: the service's own errors
(BentoML wraps them in a one-item list), BentoML's 400 for an invalid body
(whose ``error`` only counts the problems) gets a one-line message naming each
invalid field, and plain-text errors (an unknown route, a wrong method, a service
not ready yet) become JSON. Successful responses pass through untouched.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ErrorEnvelopeMiddleware", "field_errors"]

_ERROR_STATUS = 400


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def field_errors(detail: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One line naming every invalid field, and the cleaned-up details."""
    cleaned = [
        {
            "loc": list(d.get("loc") or []),
            "msg": str(d.get("msg", "")),
            "type": str(d.get("type", "")),
        }
        for d in detail
    ]
    line = "; ".join(f"{_loc(d['loc'])}: {d['msg']}" for d in cleaned)
    return f"invalid request body: {line}", cleaned


def _rewrite(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    """The normalized error body of a response."""
    text = body.decode("utf-8", errors="replace").strip()
    if not content_type.startswith("application/json"):
        line = " ".join(text.split()) or f"HTTP {status}"
        return {"error": line[:500]}
    try:
        data = json.loads(text or "null")
    except ValueError:
        return {"error": f"HTTP {status}"}
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]  # BentoML wraps the message of a 4xx exception in a list
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return {"error": f"HTTP {status}"}
    detail = data.get("detail")
    if isinstance(detail, list) and detail:
        message, cleaned = field_errors(detail)
        return {"error": message, "detail": cleaned}
    return {"error": " ".join(data["error"].split())}


class ErrorEnvelopeMiddleware:
    """Rewrite error responses (status >= 400) into the documented error body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward the response, rewriting its body when it is an error."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] < _ERROR_STATUS:
                    await send(message)
                else:
                    start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._send_error(start, b"".join(chunks), send)

        await self.app(scope, receive, capture)

    @staticmethod
    async def _send_error(start: Message, body: bytes, send: Send) -> None:
        headers = [(k, v) for k, v in start.get("headers", [])]
        content_type = next(
            (v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"),
            "",
        )
        rewritten = _rewrite(start["status"], content_type, body)
        body = json.dumps(rewritten, separators=(",", ":")).encode()
        headers = [
            (k, v)
            for k, v in headers
            if k.lower() not in (b"content-type", b"content-length")
        ]
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
