from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from recsys import (
    InvalidInputError,
    InvalidParameterError,
    MatrixFactorization,
    PopularityRecommender,
    UnknownMetricError,
    coverage_at_k_score,
    evaluate,
    evaluate_ranking,
    mae_error,
    map_at_k_score,
    metric_names,
    ndcg_at_k_score,
    precision_at_k_score,
    random_split,
    recall_at_k_score,
    rmse_error,
)
from recsys._ranking import (
    ap_from_hits,
    ndcg_from_hits,
    precision_from_hits,
    recall_from_hits,
)
from tests.recsys.conftest import ESTIMATOR_NAMES, small_estimators


@pytest.fixture(scope="module")
def split(ratings):
    return random_split(ratings, test_size=0.2, random_state=0)


def _old_evaluate_ranking(model, train, test, k):
    """The protocol as it was before the vocabulary (frozen copy: the reference)."""
    pairs = test[["user_id", "movie_id"]].drop_duplicates()
    user_index = pd.Index(pd.unique(pairs["user_id"].to_numpy()))
    recs = model.recommend(user_index.to_numpy(), k, exclude_seen=True)
    item_index = pd.Index(pd.unique(pairs["movie_id"].to_numpy()))

    def keys(users, items):
        u = user_index.get_indexer(pd.Index(users)).astype(np.int64)
        i = item_index.get_indexer(pd.Index(items)).astype(np.int64)
        return u * (len(item_index) + 1) + i

    relevant_keys = keys(pairs["user_id"].to_numpy(), pairs["movie_id"].to_numpy())
    is_hit = np.isin(keys(recs.user_id, recs.movie_id), relevant_keys) & (
        item_index.get_indexer(recs.movie_id) >= 0
    )
    hits = np.zeros((len(user_index), k), dtype=bool)
    hits[user_index.get_indexer(recs.user_id), recs.rank - 1] = is_hit
    n_rel = np.bincount(
        user_index.get_indexer(pairs["user_id"].to_numpy()), minlength=len(user_index)
    )
    n_catalog = int(train["movie_id"].nunique())
    return {
        f"precision_at_{k}": float(precision_from_hits(hits).mean()),
        f"recall_at_{k}": float(recall_from_hits(hits, n_rel).mean()),
        f"ndcg_at_{k}": float(ndcg_from_hits(hits, n_rel).mean()),
        f"map_at_{k}": float(ap_from_hits(hits, n_rel).mean()),
        f"coverage_at_{k}": len(np.unique(recs.movie_id)) / max(n_catalog, 1),
        "n_users": float(len(user_index)),
    }


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_evaluate_is_bit_identical_to_the_old_computation(split, name):
    # GIVEN a fixed synthetic split and an estimator fitted on its train part
    train, test = split
    model = small_estimators()[name].fit(train, train["rating"])
    # WHEN evaluating with the vocabulary's names
    result = evaluate(model, train, test, k=10)
    # THEN every value is exactly the one the old paths computed: rmse/mae on
    # predict of (user, movie, timestamp), ranking metrics by evaluate_ranking
    old = _old_evaluate_ranking(model, train, test, 10)
    predicted = model.predict(test[["user_id", "movie_id", "timestamp"]])
    y = test["rating"].to_numpy()
    expected = {
        "rmse": float(rmse_error(y, predicted)),
        "mae": float(mae_error(y, predicted)),
        **{f"{m}@10": old[f"{m}_at_10"] for m in ("precision", "recall", "ndcg")},
        "map@10": old["map_at_10"],
        "coverage@10": old["coverage_at_10"],
    }
    assert list(result) == list(metric_names(10))
    assert result == expected  # ==, not approx: bit-identical


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
    result = evaluate(model, train, test, k=5)
    # Reference: the mapping-based metrics on per-user recommend() calls.
    relevant = test.groupby("user_id")["movie_id"].apply(set).to_dict()
    recs = {u: list(model.recommend(u, k=5).movie_id) for u in relevant}
    assert result["precision@5"] == pytest.approx(
        precision_at_k_score(recs, relevant, 5)
    )
    assert result["recall@5"] == pytest.approx(recall_at_k_score(recs, relevant, 5))
    assert result["ndcg@5"] == pytest.approx(ndcg_at_k_score(recs, relevant, 5))
    assert result["map@5"] == pytest.approx(map_at_k_score(recs, relevant, 5))
    assert result["coverage@5"] == pytest.approx(
        coverage_at_k_score(recs, set(train["movie_id"]), 5)
    )


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
    result = evaluate(
        model, train, test, k=1, metrics=["precision@1", "ndcg@1", "coverage@1"]
    )
    # THEN
    assert result == pytest.approx(
        {"precision@1": 0.5, "ndcg@1": 0.5, "coverage@1": 2 / 4}
    )


def test_only_the_asked_metrics_in_the_asked_order(split):
    train, test = split
    model = PopularityRecommender().fit(train, train["rating"])
    # WHEN asking for two metrics, a duplicate and a timing
    result = evaluate(
        model, train, test, metrics=["ndcg@10", "rmse", "ndcg@10", "predict_seconds"]
    )
    # THEN exactly those, once each, in that order
    assert list(result) == ["ndcg@10", "rmse", "predict_seconds"]
    assert result["predict_seconds"] >= 0


def test_ranking_metrics_do_not_need_ratings(split):
    train, test = split
    model = PopularityRecommender().fit(train, train["rating"])
    result = evaluate(model, train, test[["user_id", "movie_id"]], metrics=["map@10"])
    assert set(result) == {"map@10"}


def test_missing_columns_are_reported(split):
    train, test = split
    model = PopularityRecommender().fit(train, train["rating"])
    msg = (
        "test is missing column(s) ['movie_id']: expected columns 'user_id' and "
        "'movie_id', got ['user_id']"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        evaluate(model, train, test[["user_id"]], k=5)


def test_rating_metrics_need_the_rating_column(split):
    train, test = split
    model = PopularityRecommender().fit(train, train["rating"])
    msg = (
        "test is missing column 'rating': rating metrics need the true ratings, "
        "got ['user_id', 'movie_id']"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        evaluate(model, train, test[["user_id", "movie_id"]], metrics=["rmse"])


@pytest.mark.parametrize(
    ("metrics", "error", "msg"),
    [
        (
            ["auc"],
            UnknownMetricError,
            "unknown metric 'auc' (expected one of: rmse, mae, precision@k, "
            "recall@k, ndcg@k, map@k, coverage@k, fit_seconds, predict_seconds)",
        ),
        (
            ["ndcg@5"],
            InvalidParameterError,
            "metric 'ndcg@5' is cut at 5: expected the evaluation's k=10, got k=5",
        ),
        (
            ["fit_seconds"],
            InvalidParameterError,
            "metric 'fit_seconds' is measured when fitting: evaluate times predict "
            "only (predict_seconds)",
        ),
    ],
)
def test_metrics_evaluate_cannot_compute_are_one_line_errors(
    split, metrics, error, msg
):
    train, test = split
    model = PopularityRecommender().fit(train, train["rating"])
    with pytest.raises(error, match=re.escape(msg)):
        evaluate(model, train, test, k=10, metrics=metrics)


def test_evaluation_is_deterministic(split):
    train, test = split
    model = MatrixFactorization(n_factors=4, n_epochs=3, random_state=1)
    a = evaluate(model.fit(train, train["rating"]), train, test, 10)
    b = evaluate(model.fit(train, train["rating"]), train, test, 10)
    assert a == b
    assert np.isfinite(list(a.values())).all()


def test_evaluate_ranking_is_deprecated_and_keeps_its_keys(split):
    # GIVEN the deprecated protocol and its frozen copy
    train, test = split
    model = PopularityRecommender().fit(train, train["rating"])
    # WHEN calling it
    with pytest.warns(DeprecationWarning, match=re.escape("use recsys.evaluate")):
        result = evaluate_ranking(model, train, test, k=5)
    # THEN the old keys and values, n_users included
    assert result == _old_evaluate_ranking(model, train, test, 5)


def test_standard_errors_take_users_as_the_sampling_units(split):
    from recsys import BiasBaseline, evaluate_with_errors

    train, test = split
    model = BiasBaseline().fit(train, train["rating"])
    asked = ("rmse", "mae", "ndcg@10", "coverage@10")
    values, errors = evaluate_with_errors(model, train, test, 10, metrics=asked)
    # the values are evaluate's
    assert values == evaluate(model, train, test, 10, metrics=asked)
    # coverage has none; the others are in the asked order
    assert list(errors) == ["rmse", "mae", "ndcg@10"]
    # mae: the ratio estimator's cluster-robust error, written out by hand
    residual = np.abs(model.predict(test) - test["rating"].to_numpy())
    per_user = pd.DataFrame({"u": test["user_id"].to_numpy(), "e": residual})
    sums = per_user.groupby("u")["e"].sum()
    counts = per_user.groupby("u")["e"].size()
    mean = sums.sum() / counts.sum()
    g = len(sums)
    expected = np.sqrt(g / (g - 1) * ((sums - mean * counts) ** 2).sum()) / counts.sum()
    assert errors["mae"] == pytest.approx(expected)
    # ndcg@10: the spread of the per-user values, below their mean here
    assert 0 < errors["ndcg@10"] < values["ndcg@10"]
    # fewer users, larger errors
    few = test[test["user_id"].isin(test["user_id"].unique()[:10])]
    assert (
        evaluate_with_errors(model, train, few, 10, metrics=["rmse"])[1]["rmse"]
        > errors["rmse"]
    )


def test_evaluate_by_user_gives_the_values_evaluate_averages(split):
    from recsys import BiasBaseline, evaluate_by_user, evaluate_with_errors

    train, test = split
    model = BiasBaseline().fit(train, train["rating"])
    asked = ("rmse", "ndcg@10", "map@10", "coverage@10")
    values, errors, per_user = evaluate_by_user(model, train, test, 10, metrics=asked)
    # THEN its values and errors are evaluate_with_errors'
    assert (values, errors) == evaluate_with_errors(
        model, train, test, 10, metrics=asked
    )
    # AND one row per test user, with their relevant (test) movies and the
    # ranking metrics that have per-user values (coverage has none)
    assert list(per_user.columns) == ["user_id", "n_relevant", "ndcg@10", "map@10"]
    pairs = test[["user_id", "movie_id"]].drop_duplicates()
    assert per_user.set_index("user_id")["n_relevant"].to_dict() == (
        pairs.groupby("user_id").size().to_dict()
    )
    # AND their means are the values
    assert per_user["ndcg@10"].mean() == pytest.approx(values["ndcg@10"], abs=1e-12)
    assert per_user["map@10"].mean() == pytest.approx(values["map@10"], abs=1e-12)
    # AND the users with more relevant movies score higher on average here
    many = per_user["n_relevant"] >= per_user["n_relevant"].median()
    assert per_user.loc[many, "ndcg@10"].mean() > per_user.loc[~many, "ndcg@10"].mean()
    # AND without a ranking metric there are no rows
    assert evaluate_by_user(model, train, test, 10, metrics=["rmse"])[2].empty
