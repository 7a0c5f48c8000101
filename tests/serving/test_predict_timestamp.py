"""``/predict`` with a ``timestamp``: the model's same-day user offset, when served.

A blend fitted with timestamps (:class:`recsys.BlendRecommender`, ``day_shrinkage``)
adds the user's offset of the rating's UTC day when ``X`` has a ``timestamp``
column. The service passes one when the request has one, and asks the model
exactly as before when it has none.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pandas as pd
import pytest

from reelops_serving.engine import PredictQuery, check_rating_moment, predict_frames
from reelops_serving.errors import FutureTimestampError
from reelops_serving.schemas import MAX_FUTURE_SECONDS
from tests.serving.conftest import BLEND_TAG

FUTURE_MESSAGE = (
    "timestamp must be at most 300 s after the server's clock (Unix seconds up to "
    "{latest}), got {got}"
)


def test_a_timestamp_up_to_the_skew_ahead_is_accepted() -> None:
    now = 1_700_000_000.5
    assert MAX_FUTURE_SECONDS == 300
    assert check_rating_moment(1_700_000_300, now=now) == 1_700_000_300
    assert check_rating_moment(0, now=now) == 0
    message = FUTURE_MESSAGE.format(latest=1_700_000_300, got=1_700_000_301)
    with pytest.raises(FutureTimestampError, match=re.escape(message)):
        check_rating_moment(1_700_000_301, now=now)


def test_queries_without_a_timestamp_make_the_frame_they_always_did() -> None:
    queries = [
        PredictQuery(1, 10),
        PredictQuery(2, 20, 1_600_000_000),
        PredictQuery(3, 30),
    ]
    (untimed, plain), (timed, stamped) = predict_frames(queries)
    assert untimed == [0, 2]
    pd.testing.assert_frame_equal(
        plain, pd.DataFrame({"user_id": [1, 3], "movie_id": [10, 30]})
    )
    assert timed == [1]
    pd.testing.assert_frame_equal(
        stamped,
        pd.DataFrame({"user_id": [2], "movie_id": [20], "timestamp": [1_600_000_000]}),
    )
    assert [p for p, _ in predict_frames([PredictQuery(1, 10)])] == [[0]]
    assert predict_frames([]) == []


def a_rating_day(tables: dict[str, Any]) -> dict[str, int]:
    """A user, a movie they rated and that rating's timestamp."""
    row = tables["ratings"].iloc[0]
    return {
        "user_id": int(row["user_id"]),
        "movie_id": int(row["movie_id"]),
        "timestamp": int(row["timestamp"]),
    }


def expected(model: Any, body: dict[str, int]) -> tuple[float, bool]:
    ratings, fallback = model.predict_with_fallback(pd.DataFrame([body]))
    return float(ratings[0]), bool(fallback[0])


def test_predict_applies_the_same_day_offset_only_with_a_timestamp(
    make_client: Any, blend_model: Any, tables: dict[str, Any]
) -> None:
    # GIVEN a served time-aware blend and a day the user rated on
    client = make_client(REELOPS_MODEL_TAG=BLEND_TAG)
    timed = a_rating_day(tables)
    plain = {k: timed[k] for k in ("user_id", "movie_id")}
    # WHEN the rating is asked with and without the moment
    with_day = client.post("/predict", json=timed).json()
    without = client.post("/predict", json=plain).json()
    # THEN each is the model's own answer to the same question
    assert (with_day["rating"], with_day["cold_start"]) == expected(blend_model, timed)
    assert (without["rating"], without["cold_start"]) == expected(blend_model, plain)
    assert with_day["rating"] != without["rating"]  # the day's offset applied
    # AND the response contract is unchanged
    assert (
        set(with_day)
        == set(without)
        == {
            "user_id",
            "movie_id",
            "rating",
            "cold_start",
            "model_version",
        }
    )


def test_a_batch_mixing_timed_and_plain_queries_answers_each_like_alone(
    make_client: Any, blend_model: Any, tables: dict[str, Any]
) -> None:
    make_client(REELOPS_MODEL_TAG=BLEND_TAG)
    from bentoml import get_current_service

    engine = get_current_service().engine
    timed = a_rating_day(tables)
    queries = [
        PredictQuery(timed["user_id"], timed["movie_id"]),
        PredictQuery(**timed),
        PredictQuery(999_999, timed["movie_id"], timed["timestamp"]),
    ]
    batched = engine.predict_many(queries)
    alone = [
        engine.predict(q.user_id, q.movie_id, timestamp=q.timestamp) for q in queries
    ]
    assert batched == alone
    assert batched[0] != batched[1]
    assert batched[2][1] is True  # an unknown user: the fallback, no day term


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        (-1, "timestamp: Input should be greater than or equal to 0"),
        ("1700000000", "timestamp: Input should be a valid integer"),
        (1.5, "timestamp: Input should be a valid integer"),
    ],
)
def test_an_invalid_timestamp_is_a_400_naming_the_field(
    client: Any, timestamp: Any, message: str
) -> None:
    body = {"user_id": 1, "movie_id": 1, "timestamp": timestamp}
    resp = client.post("/predict", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"] == f"invalid request body: {message}"


def test_a_timestamp_in_the_future_is_a_422_naming_the_bound(client: Any) -> None:
    before = int(time.time()) + MAX_FUTURE_SECONDS
    resp = client.post(
        "/predict", json={"user_id": 1, "movie_id": 1, "timestamp": 4_102_444_800}
    )
    after = int(time.time()) + MAX_FUTURE_SECONDS
    assert resp.status_code == 422
    pattern = re.escape(FUTURE_MESSAGE).replace(r"\{latest\}", r"(\d+)")
    found = re.fullmatch(
        pattern.replace(r"\{got\}", "4102444800"), resp.json()["error"]
    )
    assert found, resp.json()
    assert before <= int(found.group(1)) <= after
    # a timestamp of now is fine (a rating being given)
    now = {"user_id": 1, "movie_id": 1, "timestamp": int(time.time())}
    assert client.post("/predict", json=now).status_code == 200


def test_the_openapi_document_describes_the_timestamp(client: Any) -> None:
    doc = client.get("/docs.json").json()
    assert "422" in doc["paths"]["/predict"]["post"]["responses"]
    schema = doc["components"]["schemas"]["PredictRequest"]
    field = schema["properties"]["timestamp"]
    assert "300 s after the server's clock (later: 422)" in field["description"]
    assert schema["required"] == ["user_id", "movie_id"]
    assert {"user_id": 1, "movie_id": 1, "timestamp": 1700000000} in schema["examples"]
