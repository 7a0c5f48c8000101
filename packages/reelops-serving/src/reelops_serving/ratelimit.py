"""Rate limiting by work (token buckets) as ASGI middleware.

Each caller (its token fingerprint, or its address when auth is off) owns a bucket
of ``burst`` units refilled at ``requests_per_second`` units per second. A request
costs one unit; a batch costs one unit per user it asks for (``user_ids``), read
from the body before the service parses it (the body is already bounded by
:mod:`reelops_serving.limits`). A request is admitted when the bucket holds its
cost (or is full, for a batch larger than the bucket) and the cost is taken even
below zero: a big batch is paid for by the caller's next requests. A refused
request is answered 429 with ``Retry-After``. Callers without a valid token are
limited per address by :class:`~reelops_serving.auth.BearerAuthMiddleware`.

Buckets live in the worker's memory: the limit applies per worker process, so a
replica with W workers admits up to W times the rate (put a global limit at the
ingress if you need one).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from reelops_serving._asgi import read_body, replay
from reelops_serving.caller import PUBLIC_PATHS, client_key

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from starlette.types import ASGIApp, Receive, Scope, Send

    from reelops_serving.config import ServingSettings

__all__ = ["RateLimitMiddleware", "RateLimiter", "batch_cost", "too_many_requests"]


class RateLimiter:
    """Token buckets keyed by caller, at most ``max_keys`` of them (LRU).

    Args:
        rate: Units added per second.
        burst: Bucket capacity, in units.
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

    def acquire(self, key: str, cost: int = 1) -> float:
        """Charge ``cost`` units to ``key``: 0 if admitted, else seconds to wait.

        A cost above ``burst`` is admitted with a full bucket and leaves it below
        zero; the caller then waits until the debt is paid.
        """
        now = self._clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        needed = min(cost, self.burst)
        wait = 0.0
        if tokens >= needed:
            tokens -= cost
        else:
            wait = (needed - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


def too_many_requests(message: str, wait: float) -> JSONResponse:
    """The 429 answer: a one-line error and ``Retry-After`` in whole seconds."""
    return JSONResponse(
        {"error": message},
        status_code=429,
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


def batch_cost(body: bytes, field: str, *, max_cost: int) -> int:
    """Units a batch body costs: the length of its ``field`` list, 1 to ``max_cost``.

    A body the service will refuse (not JSON, no list) costs one unit; a list
    longer than a batch may be is refused too and costs ``max_cost``.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return 1
    items = data.get(field) if isinstance(data, dict) else None
    return min(max(1, len(items)), max_cost) if isinstance(items, list) else 1


class RateLimitMiddleware:
    """Answer 429 once a caller exceeds its rate (health and metrics are exempt).

    Args:
        app: The wrapped ASGI app (inside the bearer-auth and body-limit
            middlewares).
        settings: The settings, or a callable returning them (called once).
        batch_fields: Route of each batch endpoint, and the body field listing
            what it costs (one unit per item).
        max_cost: The most units one request costs (the largest batch).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ServingSettings | Callable[[], ServingSettings],
        batch_fields: Mapping[str, str] | None = None,
        max_cost: int = 1000,
    ) -> None:
        resolved = settings() if callable(settings) else settings
        cfg = resolved.rate_limit
        self.app = app
        self.batch_fields = dict(batch_fields or {})
        self.max_cost = max_cost
        self.per = "token" if resolved.api_tokens() else "client address"
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
        cost = 1
        field = self.batch_fields.get(scope["path"])
        if field is not None:
            body = await read_body(receive)
            cost = batch_cost(body, field, max_cost=self.max_cost)
            receive = replay(body, receive)
        wait = self.limiter.acquire(client_key(scope), cost)
        if wait > 0:
            limiter = self.limiter
            response = too_many_requests(
                f"rate limit exceeded: {limiter.rate:g} units/s with bursts of "
                f"{limiter.burst} per {self.per} (a request costs 1 unit, a batch "
                f"1 per user: this one {cost}); retry in {wait:.2f} s",
                wait,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
