"""Bearer-token authentication as ASGI middleware.

When tokens are configured, every request but the health and metrics endpoints
must carry ``Authorization: Bearer <token>``. Tokens are compared by their
SHA-256 digests with :func:`hmac.compare_digest`, against every configured token
without stopping at a match, so the time taken says nothing about which token or
how much of it matched. The matching token's short fingerprint is put in the ASGI
scope for the rate limiter and the logs; the token itself never is.

Requests without a valid token are limited per client address
(``rate_limit.unauthenticated_per_second``): past the rate they get a 429 instead
of a 401, so guessing tokens or flooding the service with refused requests costs
the caller time, never the service work.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from reelops_serving.caller import CALLER_KEY, PUBLIC_PATHS, address_key
from reelops_serving.ratelimit import RateLimiter, too_many_requests

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from starlette.types import ASGIApp, Receive, Scope, Send

    from reelops_serving.config import ServingSettings

__all__ = ["BearerAuthMiddleware", "TokenVerifier"]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenVerifier:
    """Which configured token (by fingerprint) a presented token is, in constant time.

    Args:
        tokens: The accepted tokens.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        digests = sorted({_digest(t) for t in tokens if t})
        self._digests = digests
        self._ids = [f"tok-{d.hex()[:12]}" for d in digests]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def identify(self, presented: str) -> str | None:
        """The fingerprint of the matching token, or ``None``."""
        candidate = _digest(presented)
        match: str | None = None
        for digest, token_id in zip(self._digests, self._ids, strict=True):
            if hmac.compare_digest(digest, candidate):
                match = token_id
        return match


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        {"error": message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="reelops"'},
    )


class BearerAuthMiddleware:
    """Refuse requests without a valid bearer token (when tokens are configured).

    Args:
        app: The wrapped ASGI app.
        settings: The settings, or a callable returning them (called once, when
            the app starts), whose ``api_tokens()`` are accepted and whose
            ``rate_limit`` limits refused callers per address.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ServingSettings | Callable[[], ServingSettings],
    ) -> None:
        resolved = settings() if callable(settings) else settings
        self.app = app
        self.verifier = TokenVerifier(resolved.api_tokens())
        cfg = resolved.rate_limit
        self.refused = (
            RateLimiter(cfg.unauthenticated_per_second, cfg.unauthenticated_burst)
            if cfg.enabled
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass authenticated requests on; 401 to the others (429 past their rate)."""
        if (
            scope["type"] != "http"
            or not self.verifier
            or scope["path"] in PUBLIC_PATHS
        ):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        token_id = None if token is None else self.verifier.identify(token)
        if token_id is not None:
            state: dict[str, Any] = scope.setdefault("state", {})
            state[CALLER_KEY] = token_id
            await self.app(scope, receive, send)
            return
        refused = self.refused
        wait = 0.0 if refused is None else refused.acquire(address_key(scope))
        if refused is not None and wait > 0:
            response = too_many_requests(
                f"too many requests without a valid bearer token: {refused.rate:g}/s "
                f"with bursts of {refused.burst} per client address; retry in "
                f"{wait:.2f} s",
                wait,
            )
        elif token is None:
            response = _unauthorized(
                "missing bearer token: send the header 'Authorization: Bearer <token>'"
            )
        else:
            response = _unauthorized("invalid bearer token")
        await response(scope, receive, send)
