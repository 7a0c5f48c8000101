"""Bearer tokens and per-token rate limits (units, then through the ASGI app)."""

from __future__ import annotations

import hmac
import re
from typing import Any

import pytest

from reelops_serving.auth import TokenVerifier
from reelops_serving.ratelimit import RateLimiter

TOKEN_A = "token-alpha-0123456789"  # pragma: allowlist secret
TOKEN_B = "token-bravo-9876543210"  # pragma: allowlist secret
MISSING = "missing bearer token: send the header 'Authorization: Bearer <token>'"


def test_verifier_identifies_tokens_by_fingerprint_only() -> None:
    verifier = TokenVerifier([TOKEN_A, TOKEN_B, TOKEN_A])
    assert len(verifier) == 2
    a, b = verifier.identify(TOKEN_A), verifier.identify(TOKEN_B)
    assert a and b and a != b
    assert TOKEN_A not in a
    assert re.fullmatch(r"tok-[0-9a-f]{12}", a)
    assert verifier.identify("token-alpha-012345678") is None
    assert verifier.identify("") is None
    assert not TokenVerifier([])


def test_verifier_compares_every_token_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN three tokens, and hmac.compare_digest counted
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("reelops_serving.auth.hmac.compare_digest", counting)
    verifier = TokenVerifier([TOKEN_A, TOKEN_B, "token-charlie"])
    # WHEN a matching and a wrong token are checked
    verifier.identify(TOKEN_A)
    verifier.identify("wrong")
    # THEN every configured digest was compared both times (no early exit), on
    # fixed-length digests rather than the raw strings
    assert len(calls) == 6
    assert {len(a) for a, _ in calls} == {32}


def test_token_bucket_allows_bursts_then_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.acquire("b") == 0.0  # another caller has its own bucket
    now[0] = 0.5
    assert limiter.acquire("a") == 0.0


def test_token_bucket_forgets_the_least_recent_callers() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=2, clock=lambda: 0.0)
    for key in ("a", "b", "c"):
        limiter.acquire(key)
    assert limiter.acquire("a") == 0.0  # "a" was evicted: a fresh bucket


@pytest.fixture
def secured(make_client: Any) -> Any:
    return make_client(REELOPS_API_TOKENS=f"{TOKEN_A},{TOKEN_B}")


def test_endpoints_need_a_token_when_tokens_are_configured(secured: Any) -> None:
    body = {"user_id": 1, "k": 2}
    missing = secured.post("/recommend", json=body)
    assert missing.status_code == 401
    assert missing.json() == {"error": MISSING}
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = secured.post(
        "/recommend", json=body, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid bearer token"}
    basic = secured.post(
        "/recommend", json=body, headers={"Authorization": f"Basic {TOKEN_A}"}
    )
    assert basic.status_code == 401
    for token in (TOKEN_A, TOKEN_B):
        ok = secured.post(
            "/recommend", json=body, headers={"Authorization": f"bearer {token}"}
        )
        assert ok.status_code == 200
    assert secured.get("/docs.json").status_code == 401


def test_health_and_metrics_stay_public(secured: Any) -> None:
    for path in ("/healthz", "/livez", "/readyz", "/metrics"):
        assert secured.get(path).status_code == 200, path


def test_rate_limit_answers_429_per_token(make_client: Any) -> None:
    # GIVEN a limit of 3 requests per token with a negligible refill
    client = make_client(REELOPS_API_TOKENS=f"{TOKEN_A},{TOKEN_B}")
    limiter = client.app  # the middleware stack is built: find the limiter
    middleware = _find(limiter, "RateLimitMiddleware")
    middleware.limiter = RateLimiter(rate=0.001, burst=3)
    body = {"user_id": 1, "k": 1}
    a = {"Authorization": f"Bearer {TOKEN_A}"}
    # WHEN token A sends 4 requests
    codes = [
        client.post("/recommend", json=body, headers=a).status_code for _ in range(4)
    ]
    # THEN the 4th is refused with Retry-After, token B is unaffected, probes too
    assert codes == [200, 200, 200, 429]
    refused = client.post("/recommend", json=body, headers=a)
    assert refused.headers["retry-after"].isdigit()
    assert refused.json()["error"].startswith(
        "rate limit exceeded: 0.001 requests/s with bursts of 3 per token; retry in"
    )
    b = {"Authorization": f"Bearer {TOKEN_B}"}
    assert client.post("/recommend", json=body, headers=b).status_code == 200
    assert client.get("/readyz").status_code == 200
    assert 'status="429"' in client.get("/metrics").text


def _find(app: Any, name: str) -> Any:
    """The middleware instance called ``name`` in a built Starlette stack."""
    node = app.middleware_stack
    while node is not None:
        if type(node).__name__ == name:
            return node
        node = getattr(node, "app", None)
    raise AssertionError(f"{name} not in the middleware stack")
