"""Bearer tokens and per-token rate limits (units, then through the ASGI app)."""

from __future__ import annotations

import hmac
import re
from typing import Any

import pytest

from reelops_serving.auth import TokenVerifier
from reelops_serving.ratelimit import RateLimiter, batch_cost

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
        "rate limit exceeded: 0.001 units/s with bursts of 3 per token (a request "
        "costs 1 unit, a batch 1 per user: this one 1); retry in"
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


def test_token_bucket_charges_by_cost_and_lets_a_big_batch_run_into_debt() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10.0, burst=20, clock=lambda: now[0])
    # a batch of 15 users takes 15 of the 20 units; another of 15 must wait
    assert limiter.acquire("a", 15) == 0.0
    assert limiter.acquire("a", 15) == pytest.approx(1.0)  # 10 units short
    assert limiter.acquire("a") == 0.0  # a single request still fits
    # a batch larger than the bucket is admitted on a full bucket, then paid for
    now[0] = 10.0
    assert limiter.acquire("a", 50) == 0.0
    assert limiter.acquire("a") == pytest.approx(3.1)  # 30 units of debt + 1


def test_batch_cost_is_the_number_of_users() -> None:
    assert batch_cost(b'{"user_ids": [1, 2, 3], "k": 5}', "user_ids", max_cost=100) == 3
    assert batch_cost(b'{"user_ids": []}', "user_ids", max_cost=100) == 1
    assert batch_cost(b"not json", "user_ids", max_cost=100) == 1
    assert batch_cost(b'{"user_ids": 7}', "user_ids", max_cost=100) == 1
    many = b'{"user_ids": [' + b",".join([b"1"] * 5000) + b"]}"
    assert batch_cost(many, "user_ids", max_cost=1000) == 1000


def test_a_batch_is_charged_one_unit_per_user(make_client: Any) -> None:
    # GIVEN a token whose bucket holds 10 units, refilled negligibly
    client = make_client(REELOPS_API_TOKENS=TOKEN_A)
    _find(client.app, "RateLimitMiddleware").limiter = RateLimiter(rate=0.001, burst=10)
    a = {"Authorization": f"Bearer {TOKEN_A}"}
    batch = {"user_ids": [1, 2, 3, 4, 5, 6], "k": 1}
    # WHEN it asks for 6 users, then 6 more
    first = client.post("/recommend_batch", json=batch, headers=a)
    second = client.post("/recommend_batch", json=batch, headers=a)
    # THEN the second batch is over the 4 units left, which a single call fits in
    assert first.status_code == 200
    assert second.status_code == 429
    assert "this one 6" in second.json()["error"]
    assert client.post("/recommend", json={"user_id": 1}, headers=a).status_code == 200


def test_callers_without_a_valid_token_are_limited_per_address(
    make_client: Any,
) -> None:
    # GIVEN tokens configured and refused callers allowed 5 requests, no refill
    client = make_client(REELOPS_API_TOKENS=TOKEN_A)
    _find(client.app, "BearerAuthMiddleware").refused = RateLimiter(rate=0.001, burst=5)
    body = {"user_id": 1}
    # WHEN one address sends 8 requests without a token or with a wrong one
    codes = [
        client.post(
            "/recommend", json=body, headers={"Authorization": "Bearer guess"}
        ).status_code
        for _ in range(4)
    ]
    codes += [client.post("/recommend", json=body).status_code for _ in range(4)]
    # THEN the first 5 are 401s and the rest 429s with Retry-After
    assert codes == [401] * 5 + [429] * 3
    refused = client.post("/recommend", json=body)
    assert refused.headers["retry-after"].isdigit()
    assert refused.json()["error"].startswith(
        "too many requests without a valid bearer token: 0.001/s with bursts of 5 "
        "per client address; retry in"
    )
    # AND a caller with a valid token from the same address is served, probes too
    ok = client.post(
        "/recommend", json=body, headers={"Authorization": f"Bearer {TOKEN_A}"}
    )
    assert ok.status_code == 200
    assert client.get("/readyz").status_code == 200
