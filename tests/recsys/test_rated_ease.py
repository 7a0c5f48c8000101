"""RatedEASE: EASE's weights, scores weighted by the user's ratings."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from recsys import EASE, InvalidParameterError, RatedEASE, make_estimator
from recsys.rated_ease import rating_input_weights


@pytest.fixture(scope="module")
def tiny(ratings) -> pd.DataFrame:
    keep = ratings["user_id"].isin(ratings["user_id"].unique()[:40])
    return ratings[keep].reset_index(drop=True)


def test_input_weights_centre_each_users_ratings_and_floor_at_zero():
    # GIVEN two users' ratings in CSR order (user 0: 5, 3, 1; user 1: 4)
    indptr = np.array([0, 3, 4])
    ratings = np.array([5.0, 3.0, 1.0, 4.0])
    # WHEN weighted with 0.25 and with 0.75 per star above the user's mean
    mild = rating_input_weights(indptr, ratings, 0.25)
    strong = rating_input_weights(indptr, ratings, 0.75)
    # THEN 1 + w * (r - mean_u), never below 0
    np.testing.assert_allclose(mild, [1.5, 1.0, 0.5, 1.0])
    np.testing.assert_allclose(strong, [2.5, 1.0, 0.0, 1.0])


def test_without_rating_weight_nor_debiasing_it_scores_as_ease(tiny):
    params = {"lambda_reg": 30.0, "dropout": 0.2, "min_item_count": 2}
    rated = RatedEASE(**params, rating_weight=0.0, popularity_exponent=0.0)
    rated.fit(tiny, tiny["rating"])
    plain = EASE(**params).fit(tiny, tiny["rating"])
    np.testing.assert_array_equal(rated.weights_, plain.weights_)
    users = np.arange(len(plain.user_ids_))
    np.testing.assert_allclose(
        rated._score_users(users), plain._score_users(users), rtol=1e-6
    )
    pd.testing.assert_frame_equal(
        rated.recommend(plain.user_ids_, 10).to_frame(),
        plain.recommend(plain.user_ids_, 10).to_frame(),
    )


def test_scores_are_rating_weighted_sums_of_ease_rows_divided_by_popularity(tiny):
    # GIVEN a RatedEASE fitted on every movie
    w, beta = 0.3, 0.2
    model = RatedEASE(
        lambda_reg=30.0, min_item_count=1, rating_weight=w, popularity_exponent=beta
    ).fit(tiny, tiny["rating"])
    # WHEN two users are scored
    scores = model._score_users(np.array([0, 3]))
    # THEN it is (weights * x) @ B / count ** beta, weights from the user's mean
    r = tiny.pivot_table("rating", "user_id", "movie_id", aggfunc="mean")
    x = r.notna().to_numpy(float)
    centred = r.sub(r.mean(axis=1), axis=0).fillna(0.0).to_numpy()
    inputs = np.maximum(1.0 + w * centred, 0.0) * x
    counts = tiny["movie_id"].value_counts().reindex(r.columns).to_numpy(float)
    expected = inputs[[0, 3]] @ model.weights_.astype(float) / counts**beta
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)


def test_a_liked_movies_neighbour_ranks_above_a_disliked_movies_neighbour():
    # GIVEN movies 1-2 and 3-4 always watched together, and a user who loved 1
    # and hated 3
    pairs = [(u, m) for u in range(10, 30) for m in (1, 2)]
    pairs += [(u, m) for u in range(30, 50) for m in (3, 4)]
    frame = pd.DataFrame(pairs, columns=["user_id", "movie_id"])
    frame["rating"] = 3.0
    user = pd.DataFrame({"user_id": [1, 1], "movie_id": [1, 3], "rating": [5.0, 1.0]})
    data = pd.concat([frame, user], ignore_index=True)
    # WHEN ranked with rating weights, and without
    weighted = RatedEASE(lambda_reg=1.0, min_item_count=1, rating_weight=0.2)
    flat = RatedEASE(lambda_reg=1.0, min_item_count=1, rating_weight=0.0)
    top_weighted = weighted.fit(data, data["rating"]).recommend(1, 2).movie_id
    top_flat = flat.fit(data, data["rating"]).recommend(1, 2).movie_id
    # THEN the liked movie's neighbour comes first only with rating weights
    assert list(top_weighted) == [2, 4]
    assert sorted(top_flat) == [2, 4]


def test_fitting_twice_gives_the_same_model(tiny):
    model = make_estimator("rated_ease", {"min_item_count": 2})
    a = pickle.dumps(clone(model).fit(tiny, tiny["rating"]))
    b = pickle.dumps(clone(model).fit(tiny, tiny["rating"]))
    assert a == b


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"rating_weight": -0.1},
            "rating_weight must be a finite real number >= 0, got -0.1 instead",
        ),
        (
            {"popularity_exponent": 1.5},
            "popularity_exponent must be in [0, 1], got 1.5 instead",
        ),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0 instead"),
    ],
)
def test_bad_hyperparameters_are_one_line_errors(tiny, params, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        RatedEASE(**params).fit(tiny, tiny["rating"])
