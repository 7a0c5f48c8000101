"""The fast path (``reelops_serving.fast_path``) through ASGI: which endpoints take it.

The answers themselves (bodies, validation errors, 404s) are pinned by
test_service.py, whatever path serves them; here: the single-item endpoints skip
BentoML's endpoint wrapper, the others still go through it, and an unexpected
error is a one-line 500 without a stack trace.
"""

from __future__ import annotations

from typing import Any

import bentoml
import pytest

FAST = "An unexpected error has occurred, please check the server log."


def test_single_item_endpoints_skip_bentoml_endpoint_wrapper(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a spy on BentoML's endpoint wrapper
    from _bentoml_impl.server.app import ServiceAppFactory

    called: list[str] = []
    original = ServiceAppFactory.api_endpoint

    async def spy(self: Any, name: str, request: Any) -> Any:
        called.append(name)
        return await original(self, name, request)

    monkeypatch.setattr(ServiceAppFactory, "api_endpoint", spy)
    # WHEN every endpoint answers once
    answers = [
        client.post("/recommend", json={"user_id": 1, "k": 2}),
        client.post("/predict", json={"user_id": 1, "movie_id": 1}),
        client.post("/similar", json={"movie_id": 1, "k": 2}),
        client.post("/recommend_batch", json={"user_ids": [1], "k": 2}),
    ]
    # THEN all answered, and only the batch went through BentoML's wrapper
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert called == ["recommend_batch"]
    assert answers[0].headers["content-type"] == "application/json"
    assert answers[0].headers["server"] == "BentoML Service/reelops_recommender"


def test_unexpected_error_on_the_fast_path_is_a_one_line_500(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an engine that fails
    service = bentoml.get_current_service()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom\nwith a second line")

    monkeypatch.setattr(service.engine, "recommend", broken)
    # WHEN a valid request comes
    resp = client.post("/recommend", json={"user_id": 1, "k": 2})
    # THEN a 500 with BentoML's one-line message; no detail, no stack trace
    assert resp.status_code == 500
    assert resp.json() == {"error": FAST}
    assert "boom" not in resp.text
