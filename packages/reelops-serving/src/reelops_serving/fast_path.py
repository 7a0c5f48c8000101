"""The hot path: single-item JSON endpoints answered without BentoML's endpoint wrapper.

BentoML answers each ``@bentoml.api`` call through its endpoint wrapper: the
method's signature inspected on every call, the request bound to it through a
serde and an IO model, the context injected, the response serialized through an
output spec and a background task attached to it; about 0.4 ms per request, five
times what the engine takes for a ``/recommend`` from the precomputed top-N.
:class:`FastPathMiddleware`, the innermost of the service's middlewares, answers
the listed routes itself: it parses the body with the endpoint's pydantic model,
awaits the very function the ``@bentoml.api`` decorator wraps (the same code,
the same answer) and writes the response's JSON. Everything outside it still
applies (metrics, the error envelope, authentication, body limits, rate limits,
BentoML's timeout and concurrency limit), and the routes stay BentoML APIs:
``bentoml.SyncHTTPClient``, ``/schema.json`` and the OpenAPI document are unchanged.

A mounted ASGI app (``@bentoml.asgi_app``) cannot do this: BentoML puts mounted
apps after its API routes, so a path that is also an API never reaches them.

Errors are the ones BentoML's wrapper gives (the error envelope then writes
every one as one line): an invalid body is a 400 naming the invalid fields (an
empty body is ``{}``), a :class:`~reelops_serving.errors.RequestError` answers
its status and message, and anything else is a 500 whose details go to the log
only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import bentoml
from pydantic import BaseModel, ValidationError

from reelops_serving._asgi import read_body
from reelops_serving.errors import RequestError
from reelops_serving.http_errors import field_errors

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FastPathMiddleware", "FastRoute"]

logger = logging.getLogger(__name__)

_JSON_HEADER = (b"content-type", b"application/json")
#: BentoML's answer to an unexpected error (details in the server log only).
_UNEXPECTED = "An unexpected error has occurred, please check the server log."


@dataclass(frozen=True)
class FastRoute:
    """One endpoint answered on the fast path.

    Args:
        request: The endpoint's request model (parses the body).
        handler: The endpoint's function, ``handler(service, request)``: what
            ``@bentoml.api`` wraps (``Recommender.recommend.func``).
    """

    request: type[BaseModel]
    handler: Callable[[Any, Any], Awaitable[BaseModel]]


def _error(status: int, body: dict[str, Any]) -> tuple[int, bytes]:
    return status, json.dumps(body, separators=(",", ":")).encode()


class FastPathMiddleware:
    """Answer ``POST`` to the listed routes directly; pass every other request on.

    Args:
        app: The wrapped ASGI app (BentoML's router).
        routes: Path of each fast endpoint and how to answer it.
        service: Returns the service instance (``bentoml.get_current_service``).
        server: The ``Server`` header (BentoML's wrapper sends its service name).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[str, FastRoute],
        service: Callable[[], Any] = bentoml.get_current_service,
        server: str = "",
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.service = service
        self.headers = [_JSON_HEADER]
        if server:
            self.headers.append((b"server", server.encode("latin-1")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a fast route; forward anything else."""
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        # the body size is already bounded (RequestLimitsMiddleware, outside)
        status, body = await self._answer(route, await read_body(receive))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*self.headers, (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, route: FastRoute, raw: bytes) -> tuple[int, bytes]:
        try:
            request = route.request.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            message, detail = field_errors(
                exc.errors(
                    include_url=False, include_context=False, include_input=False
                )  # type: ignore[arg-type]
            )
            return _error(400, {"error": message, "detail": detail})
        try:
            response = await route.handler(self.service(), request)
        except RequestError as exc:
            return _error(int(exc.error_code), {"error": str(exc)})
        except Exception:
            logger.exception("answering a %s failed", route.request.__name__)
            return _error(500, {"error": _UNEXPECTED})
        return 200, response.__pydantic_serializer__.to_json(response)
