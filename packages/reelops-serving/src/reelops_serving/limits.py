"""Request bodies refused before they are read: 413 when too large, 415 if not JSON.

A body is checked against its route's limit (``limits.max_batch_body_bytes`` for
the batch endpoint, ``limits.max_body_bytes`` for every other path) from its
``Content-Length`` alone: the HTTP server never hands on more bytes than that
header announced. A body sent without one (chunked) is read here up to the limit
and refused as soon as it goes past it. The API endpoints take JSON only: a POST
to them whose ``Content-Type`` is anything but ``application/json`` (a form, a
multipart upload, text) is a 415; one without ``Content-Type`` is read as JSON.
Both answers are decided from the headers, before any byte of the body is parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from reelops_serving._asgi import BodyTooLarge, read_body, replay

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from starlette.types import ASGIApp, Receive, Scope, Send

    from reelops_serving.config import ServingSettings

__all__ = ["RequestLimitsMiddleware"]

_JSON = b"application/json"


def _too_large(path: str, limit: int, received: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": f"request body too large: at most {limit} bytes for {path}, "
            f"got {received}"
        },
        status_code=413,
    )


def _unsupported(content_type: bytes) -> JSONResponse:
    shown = content_type.partition(b";")[0].strip().decode("latin-1")[:100]
    return JSONResponse(
        {
            "error": f"unsupported Content-Type '{shown}': send a JSON body with "
            "'Content-Type: application/json'"
        },
        status_code=415,
    )


class RequestLimitsMiddleware:
    """Answer 413 to bodies over their route's limit, 415 to non-JSON API calls.

    Args:
        app: The wrapped ASGI app.
        settings: The settings, or a callable returning them (called once).
        json_routes: The API endpoints (POST, JSON bodies).
        batch_routes: Endpoints allowed ``limits.max_batch_body_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ServingSettings | Callable[[], ServingSettings],
        json_routes: Iterable[str],
        batch_routes: Iterable[str] = (),
    ) -> None:
        resolved = settings() if callable(settings) else settings
        cfg = resolved.limits
        self.app = app
        self.default_limit = cfg.max_body_bytes
        batch = frozenset(batch_routes)
        self.limits = {
            route: cfg.max_batch_body_bytes if route in batch else cfg.max_body_bytes
            for route in (*json_routes, *batch)
        }
        self.json_routes = frozenset(json_routes) | batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what the headers already condemn; pass the rest on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        length = content_type = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                chunked = True
        limit = self.limits.get(path, self.default_limit)
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(path, limit, length.decode())(scope, receive, send)
            return
        if (
            content_type is not None
            and path in self.json_routes
            and scope["method"] == "POST"
            and content_type.partition(b";")[0].strip().lower() != _JSON
        ):
            await _unsupported(content_type)(scope, receive, send)
            return
        if length is None and chunked:
            try:
                body = await read_body(receive, limit=limit)
            except BodyTooLarge:
                response = _too_large(path, limit, f"more than {limit}")
                await response(scope, receive, send)
                return
            receive = replay(body, receive)
        await self.app(scope, receive, send)
