"""Who a request comes from: the token authentication found, else its address.

The bearer-auth middleware puts the matching token's fingerprint in the ASGI
scope; the rate limiter keys its buckets on it, and ``/feedback`` scopes
idempotency keys to it. Without a token the caller is its network address,
``scope["client"]``: uvicorn sets it from ``X-Forwarded-For`` only for peers
listed in ``FORWARDED_ALLOW_IPS`` (loopback by default), so a client cannot pick
its own address unless it is a trusted proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import Scope

__all__ = ["CALLER_KEY", "PUBLIC_PATHS", "address_key", "caller_id", "client_key"]

#: Paths answered without a token (probes and Prometheus scrapes).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})
#: Key of ``scope["state"]`` naming the caller (its token fingerprint).
CALLER_KEY = "reelops_caller"


def caller_id(scope: Scope) -> str | None:
    """The fingerprint of the caller's token, or ``None`` (no token checked)."""
    state = scope.get("state")
    if not state:
        return None
    token_id = state.get(CALLER_KEY)
    return str(token_id) if token_id else None


def address_key(scope: Scope) -> str:
    """The caller's network address as a rate-limit key."""
    client = scope.get("client")
    return f"addr-{client[0]}" if client else "addr-unknown"


def client_key(scope: Scope) -> str:
    """The caller's token fingerprint, else its network address."""
    return caller_id(scope) or address_key(scope)
