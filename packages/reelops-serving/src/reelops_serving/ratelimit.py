"""Per-token rate limiting (token buckets) as ASGI middleware.

Each caller (its token fingerprint, or its address when auth is off) owns a bucket
of ``burst`` requests refilled at ``requests_per_second``; a request finding the
bucket empty is answered 429 with ``Retry-After``. Buckets live in the worker's
memory: the limit applies per worker process, so a replica with W workers admits
up to W times the rate (put a global limit at the ingress if you need one).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from reelops_serving.auth import PUBLIC_PATHS, client_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Receive, Scope, Send

    from reelops_serving.config import ServingSettings

__all__ = ["RateLimitMiddleware", "RateLimiter"]


class RateLimiter:
    """Token buckets keyed by caller, at most ``max_keys`` of them (LRU).

    Args:
        rate: Tokens added per second.
        burst: Bucket capacity.
        max_keys: Callers tracked at once; the least recently seen is forgotten.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0 if allowed, else seconds until one is due."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


class RateLimitMiddleware:
    """Answer 429 once a caller exceeds its rate (health and metrics are exempt).

    Args:
        app: The wrapped ASGI app (inside the bearer-auth middleware).
        settings: The settings, or a callable returning them (called once).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ServingSettings | Callable[[], ServingSettings],
    ) -> None:
        resolved = settings() if callable(settings) else settings
        cfg = resolved.rate_limit
        self.app = app
        self.limiter = (
            RateLimiter(cfg.requests_per_second, cfg.burst) if cfg.enabled else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass requests within the caller's rate on; answer 429 to the others."""
        if (
            self.limiter is None
            or scope["type"] != "http"
            or scope["path"] in PUBLIC_PATHS
        ):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.acquire(client_key(scope))
        if wait > 0:
            limiter = self.limiter
            response = JSONResponse(
                {
                    "error": f"rate limit exceeded: {limiter.rate:g} requests/s with "
                    f"bursts of {limiter.burst} per token; retry in {wait:.2f} s"
                },
                status_code=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
