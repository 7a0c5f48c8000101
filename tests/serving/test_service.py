"""The service through ASGI: ``TestClient(Recommender.to_asgi())``, no server process.

Every endpoint, the error contract (4xx naming the field, 404 one-liners, never a
500 or a stack trace for bad input), readiness, metrics and the OpenAPI document.
"""

from __future__ import annotations

import gc
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import BIAS_TAG, EASE_TAG

UNKNOWN_USER = 999_999
UNKNOWN_MOVIE = 999_999_999


def test_recommend_returns_k_catalog_movies_for_a_known_user(client: Any) -> None:
    # WHEN a known user asks for 5 movies
    resp = client.post("/recommend", json={"user_id": 1, "k": 5})
    # THEN 5 distinct catalog movies come back, best first, from the served model
    assert resp.status_code == 200
    body = resp.json()
    assert body["user_id"] == 1
    assert body["cold_start"] is False
    assert body["model_version"] == EASE_TAG
    items = body["items"]
    assert len(items) == 5
    assert len({i["movie_id"] for i in items}) == 5
    assert [i["score"] for i in items] == sorted(
        (i["score"] for i in items), reverse=True
    )
    assert all(i["title"] and isinstance(i["genres"], list) for i in items)


def test_recommend_excludes_seen_movies_by_default(
    client: Any, tables: dict[str, Any]
) -> None:
    ratings = tables["ratings"]
    seen = set(ratings.loc[ratings["user_id"] == 1, "movie_id"])
    # WHEN seen movies are excluded (default) and when they are not
    default = client.post("/recommend", json={"user_id": 1, "k": 20}).json()
    kept = client.post(
        "/recommend", json={"user_id": 1, "k": 20, "exclude_seen": False}
    ).json()
    # THEN only the second list may contain movies the user rated
    assert not {i["movie_id"] for i in default["items"]} & seen
    assert {i["movie_id"] for i in kept["items"]} & seen


def test_unknown_user_gets_popular_movies_with_cold_start(
    client: Any, tables: dict[str, Any]
) -> None:
    resp = client.post("/recommend", json={"user_id": UNKNOWN_USER, "k": 3})
    assert resp.status_code == 200
    body = resp.json()
    assert body["cold_start"] is True
    counts = tables["ratings"]["movie_id"].value_counts()
    assert [i["movie_id"] for i in body["items"]] == list(counts.index[:3])


def test_genre_filter_keeps_only_movies_of_those_genres(client: Any) -> None:
    for user in (1, UNKNOWN_USER):
        body = client.post(
            "/recommend", json={"user_id": user, "k": 10, "genres": ["Horror", "War"]}
        ).json()
        assert len(body["items"]) == 10
        assert all({"Horror", "War"} & set(i["genres"]) for i in body["items"])


def test_batch_answers_every_user_in_order_like_single_calls(client: Any) -> None:
    users = [3, 1, UNKNOWN_USER, 3]
    batch = client.post("/recommend_batch", json={"user_ids": users, "k": 4}).json()
    assert [r["user_id"] for r in batch["results"]] == users
    assert [r["cold_start"] for r in batch["results"]] == [False, False, True, False]
    for result in batch["results"]:
        single = client.post(
            "/recommend", json={"user_id": result["user_id"], "k": 4}
        ).json()
        assert result["items"] == single["items"]


def test_predict_rates_known_and_fallback_pairs(client: Any) -> None:
    known = client.post("/predict", json={"user_id": 1, "movie_id": 1}).json()
    assert 0.5 <= known["rating"] <= 5.0
    assert known["cold_start"] is False
    assert known["model_version"] == EASE_TAG
    cold = client.post("/predict", json={"user_id": UNKNOWN_USER, "movie_id": 1}).json()
    assert cold["cold_start"] is True


@pytest.mark.parametrize("path", ["/predict", "/similar"])
def test_unknown_movie_is_a_404_with_one_line(client: Any, path: str) -> None:
    body = {"movie_id": UNKNOWN_MOVIE}
    if path == "/predict":
        body["user_id"] = 1
    resp = client.post(path, json=body)
    assert resp.status_code == 404
    assert resp.json() == {
        "error": f"unknown movie_id {UNKNOWN_MOVIE}: not in the catalog of model "
        f"{EASE_TAG}"
    }


def test_similar_uses_the_model_similarity(client: Any) -> None:
    body = client.post("/similar", json={"movie_id": 1, "k": 5}).json()
    assert body["title"] == "Toy Story"
    assert body["fallback"] is False
    assert len(body["items"]) == 5
    assert 1 not in {i["movie_id"] for i in body["items"]}


def test_similar_falls_back_to_shared_genres_without_model_similarity(
    make_client: Any,
) -> None:
    # GIVEN a model without item similarity (BiasBaseline)
    client = make_client(REELOPS_MODEL_TAG=BIAS_TAG)
    # WHEN similar movies of Toy Story are asked for
    body = client.post("/similar", json={"movie_id": 1, "k": 5}).json()
    # THEN movies sharing its genres answer, flagged as fallback
    assert body["fallback"] is True
    assert body["model_version"] == BIAS_TAG
    toy_story = {"Adventure", "Animation", "Children", "Comedy", "Fantasy"}
    assert all(toy_story & set(i["genres"]) for i in body["items"])
    assert body["items"][0]["score"] == 1.0


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        pytest.param(
            "/recommend",
            {"user_id": 1, "k": 0},
            "invalid request body: k: Input should be greater than or equal to 1",
            id="k-too-small",
        ),
        pytest.param(
            "/recommend",
            {"user_id": 1, "k": 101},
            "invalid request body: k: Input should be less than or equal to 100",
            id="k-too-large",
        ),
        pytest.param(
            "/recommend",
            {"user_id": "1"},
            "invalid request body: user_id: Input should be a valid integer",
            id="string-id",
        ),
        pytest.param(
            "/recommend",
            {"user_id": 1, "genre": ["Drama"]},
            "invalid request body: genre: Extra inputs are not permitted",
            id="unknown-key",
        ),
        pytest.param(
            "/recommend",
            {"k": 3},
            "invalid request body: user_id: Field required",
            id="missing-field",
        ),
        pytest.param(
            "/recommend",
            {"user_id": 0},
            "invalid request body: user_id: Input should be greater than or equal to 1",
            id="zero-id",
        ),
        pytest.param(
            "/similar",
            {"movie_id": 1, "k": 10**30},
            "invalid request body: k: Input should be less than or equal to 100",
            id="huge-int",
        ),
        pytest.param(
            "/recommend_batch",
            {"user_ids": []},
            "invalid request body: user_ids: List should have at least 1 item after "
            "validation, not 0",
            id="empty-batch",
        ),
    ],
)
def test_invalid_body_is_a_400_naming_the_field(
    client: Any, path: str, body: dict[str, Any], message: str
) -> None:
    resp = client.post(path, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"] == message
    assert resp.json()["detail"][0]["loc"]


def test_unknown_genre_is_a_400_listing_the_genres(client: Any) -> None:
    resp = client.post("/recommend", json={"user_id": 1, "genres": ["Nope"]})
    assert resp.status_code == 400
    assert resp.json()["error"].startswith(
        "invalid request body: genres.0: Input should be 'Action', 'Adventure'"
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad json",
        b"",
        b"[]",
        b"null",
        b'{"user_id": 1e400}',
        "\u00e9".encode("latin-1"),
    ],
)
def test_malformed_bodies_are_4xx_never_5xx(client: Any, raw: bytes) -> None:
    resp = client.post(
        "/recommend", content=raw, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    body = resp.json()
    assert "\n" not in body["error"]
    assert "Traceback" not in resp.text


def test_unknown_route_and_method_answer_json(client: Any) -> None:
    assert client.post("/nope", json={}).json() == {"error": "Not Found"}
    wrong = client.get("/recommend")
    assert wrong.status_code == 405
    assert wrong.json() == {"error": "Method Not Allowed"}


def test_probes_answer_once_the_model_is_loaded(client: Any) -> None:
    for probe in ("/healthz", "/livez", "/readyz"):
        assert client.get(probe).status_code == 200


def test_loaded_worker_collects_gen2_rarely(client: Any) -> None:
    # GIVEN a started service (the model is loaded in __init__)
    from reelops_serving.heap import GC_THRESHOLDS

    # THEN full collections of the per-request objects are rarer than by default
    assert gc.get_threshold() == GC_THRESHOLDS


def test_metrics_export_requests_cold_starts_coverage_and_model(client: Any) -> None:
    client.post("/recommend", json={"user_id": 1, "k": 5})
    client.post("/recommend", json={"user_id": UNKNOWN_USER, "k": 5})
    client.post("/predict", json={"user_id": 1, "movie_id": UNKNOWN_MOVIE})
    text = client.get("/metrics").text
    assert re.search(
        r'reelops_http_requests_total\{endpoint="/recommend",method="POST",'
        r'status="200"\} [1-9]',
        text,
    )
    assert (
        'reelops_http_requests_total{endpoint="/predict",method="POST",status="404"}'
        in text
    )
    assert 'reelops_http_request_duration_seconds_bucket{endpoint="/recommend"' in text
    assert re.search(r'reelops_recommendations_total\{cold_start="true"\} [1-9]', text)
    coverage = re.search(
        r"^reelops_recommended_catalog_coverage_ratio (\S+)$", text, re.M
    )
    assert coverage and float(coverage.group(1)) > 0
    assert f'model_tag="{EASE_TAG}"' in text
    assert 'candidate="ease"' in text


def multiproc_bytes() -> int:
    """Bytes of the Prometheus multiprocess files of this process's metrics."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    return sum(p.stat().st_size for p in directory.glob("*.db"))


def test_bogus_paths_and_methods_leave_metrics_files_and_metrics_flat(
    client: Any,
) -> None:
    # GIVEN every label the flood will use, and /metrics itself, seen once
    for method in ("GET", "POST", "BREW"):
        client.request(method, "/warm-up")
    client.get("/metrics")
    files, exposed = multiproc_bytes(), len(client.get("/metrics").content)
    # WHEN 300 requests go to made-up paths with made-up methods
    for i in range(300):
        path = f"/{uuid.uuid4().hex}/{'x' * 200}/{i}"
        resp = client.request(("GET", "POST", f"M{i}")[i % 3], path)
        assert resp.status_code in (404, 405)
    # THEN the metrics files did not grow and /metrics grew by counter digits only
    assert multiproc_bytes() == files
    assert len(client.get("/metrics").content) - exposed < 512
    text = client.get("/metrics").text
    assert (
        'reelops_http_requests_total{endpoint="other",method="OTHER",status="404"}'
        in text
    )
    assert "x" * 200 not in text


def test_openapi_document_is_complete(client: Any) -> None:
    doc = client.get("/docs.json").json()
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    ops = {path: item["post"] for path, item in doc["paths"].items() if "post" in item}
    assert set(ops) == {
        "/recommend",
        "/recommend_batch",
        "/predict",
        "/similar",
        "/feedback",
    }
    for op in ops.values():
        assert op["summary"]
        assert {"200", "400", "401", "413", "415", "429"} <= set(op["responses"])
    assert "404" in ops["/predict"]["responses"]
    assert {"409", "422"} <= set(ops["/feedback"]["responses"])
    (key,) = ops["/feedback"]["parameters"]
    assert (key["name"], key["in"], key["required"]) == (
        "Idempotency-Key",
        "header",
        False,
    )
    schemas = doc["components"]["schemas"]
    request = schemas["RecommendRequest"]
    assert request["additionalProperties"] is False
    assert request["examples"]
    assert all(p.get("description") for p in request["properties"].values())
    for probe in ("/healthz", "/livez", "/readyz", "/metrics"):
        assert doc["paths"][probe]["get"]["security"] == []


def test_feedback_through_the_api_is_idempotent(client: Any) -> None:
    body = {"user_id": 7, "movie_id": 1, "rating": 4.0, "timestamp": 1_600_000_000}
    first = client.post("/feedback", json=body)
    again = client.post("/feedback", json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == {**body, "created": True}
    assert again.json() == {**body, "created": False}
    conflict = client.post("/feedback", json={**body, "rating": 2.0})
    assert conflict.status_code == 409


def test_feedback_rejects_like_ingestion(client: Any) -> None:
    resp = client.post(
        "/feedback", json={"user_id": 7, "movie_id": 1, "rating": 4.2, "timestamp": 1}
    )
    assert resp.status_code == 422
    assert resp.json() == {
        "error": "rating must be one of {0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5}, got "
        "'4.2'; timestamp must be a unix time between 1995-01-01 and "
        f"{_today()}, got '1'"
    }


def _today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).date().isoformat()
