from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from recsys import (
    InvalidInputError,
    MatrixFactorization,
    PopularityRecommender,
    coverage_at_k_score,
    evaluate_ranking,
    map_at_k_score,
    ndcg_at_k_score,
    precision_at_k_score,
    random_split,
    recall_at_k_score,
)


@pytest.fixture(scope="module")
def split(ratings):
    return random_split(ratings, test_size=0.2, random_state=0)


@pytest.mark.parametrize(
    "model",
    [
        PopularityRecommender(),
        MatrixFactorization(n_factors=8, n_epochs=5, random_state=0),
    ],
)
def test_batched_evaluation_equals_the_reference_metrics(split, model):
    train, test = split
    model.fit(train, train["rating"])
    result = evaluate_ranking(model, train, test, k=5)
    # Reference: the mapping-based metrics on per-user recommend() calls.
    relevant = test.groupby("user_id")["movie_id"].apply(set).to_dict()
    recs = {u: list(model.recommend(u, k=5).movie_id) for u in relevant}
    assert result["precision_at_5"] == pytest.approx(
        precision_at_k_score(recs, relevant, 5)
    )
    assert result["recall_at_5"] == pytest.approx(recall_at_k_score(recs, relevant, 5))
    assert result["ndcg_at_5"] == pytest.approx(ndcg_at_k_score(recs, relevant, 5))
    assert result["map_at_5"] == pytest.approx(map_at_k_score(recs, relevant, 5))
    assert result["coverage_at_5"] == pytest.approx(
        coverage_at_k_score(recs, set(train["movie_id"]), 5)
    )
    assert result["n_users"] == len(relevant)


def test_hand_made_protocol():
    # GIVEN user 1 who saw movies 10 and 11, and held-out movie 12
    train = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 2, 3],
            "movie_id": [10, 11, 10, 12, 13, 13],
            "rating": [5.0, 4.0, 3.0, 2.0, 1.0, 4.0],
        }
    )
    test = pd.DataFrame({"user_id": [1, 4], "movie_id": [12, 10]})
    model = PopularityRecommender().fit(train, train["rating"])
    # WHEN evaluating at k=1: popularity order is 10, 13, 11, 12 (ties by id);
    # user 1 has seen 10 and 11, so gets 13 (miss); unknown user 4 gets 10 (hit).
    result = evaluate_ranking(model, train, test, k=1)
    # THEN
    assert result["precision_at_1"] == pytest.approx(0.5)
    assert result["ndcg_at_1"] == pytest.approx(0.5)
    assert result["coverage_at_1"] == pytest.approx(2 / 4)


def test_missing_columns_are_reported(split):
    train, test = split
    model = PopularityRecommender().fit(train, train["rating"])
    msg = (
        "test is missing column(s) ['movie_id']: expected columns 'user_id' and "
        "'movie_id', got ['user_id']"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        evaluate_ranking(model, train, test[["user_id"]], k=5)


def test_evaluation_is_deterministic(split):
    train, test = split
    model = MatrixFactorization(n_factors=4, n_epochs=3, random_state=1)
    a = evaluate_ranking(model.fit(train, train["rating"]), train, test, 10)
    b = evaluate_ranking(model.fit(train, train["rating"]), train, test, 10)
    assert a == b
    assert np.isfinite(list(a.values())).all()
