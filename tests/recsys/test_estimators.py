"""Behaviour shared by every estimator: fallback, recommend, pickling, determinism."""

from __future__ import annotations

import hashlib
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from recsys import (
    EASE,
    BiasBaseline,
    InvalidInputError,
    InvalidParameterError,
    MatrixFactorization,
    NotFittedError,
    Recommendations,
    SimilarItems,
)

from .conftest import ESTIMATOR_NAMES, small_estimators

WITH_SIMILAR = ["mf", "item_knn", "ease", "blend"]


def _pairs(users, movies) -> pd.DataFrame:
    return pd.DataFrame({"user_id": users, "movie_id": movies})


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_predictions_are_clipped_ratings(fitted, ratings, name):
    pred = fitted[name].predict(ratings)
    assert pred.shape == (len(ratings),)
    assert pred.min() >= 0.5
    assert pred.max() <= 5.0


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_unknown_users_and_movies_fall_back_to_biases(fitted, ratings, name):
    # GIVEN a fitted model and pairs with an unknown user and/or movie
    model = fitted[name]
    known_user = ratings["user_id"].iloc[0]
    known_movie = ratings["movie_id"].iloc[0]
    X = _pairs([known_user, -1, known_user, -1], [known_movie, known_movie, -5, -5])
    # WHEN predicting
    pred, fallback = model.predict_with_fallback(X)
    # THEN the unknown rows are flagged and equal the documented fallback
    np.testing.assert_array_equal(fallback, [False, True, True, True])
    u = np.searchsorted(model.user_ids_, known_user)
    i = np.searchsorted(model.movie_ids_, known_movie)
    mu = model.global_mean_
    expected = [
        mu + model.fallback_item_bias_[i],
        mu + model.fallback_user_bias_[u],
        mu,
    ]
    np.testing.assert_allclose(pred[1:], np.clip(expected, 0.5, 5.0))


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_unknown_ids_of_another_type_do_not_crash(fitted, name):
    pred, fallback = fitted[name].predict_with_fallback(_pairs(["x"], ["y"]))
    assert fallback.tolist() == [True]
    assert pred[0] == pytest.approx(np.clip(fitted[name].global_mean_, 0.5, 5.0))
    recs = fitted[name].recommend(["nobody"], k=3)
    assert recs.fallback.all()


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_recommend_unknown_user_gets_popular_movies(fitted, ratings, name):
    recs = fitted[name].recommend([-1], k=5)
    assert isinstance(recs, Recommendations)
    popular = ratings["movie_id"].value_counts()
    top = popular[popular >= popular.iloc[4]].index
    assert recs.fallback.all()
    assert set(recs.movie_id) <= set(top)
    assert recs.rank.tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(
        recs.score, popular.loc[recs.movie_id].to_numpy() / len(ratings)
    )


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_recommend_excludes_seen_and_ranks_by_score(fitted, ratings, name):
    model = fitted[name]
    users = ratings["user_id"].unique()[:7]
    recs = model.recommend(users, k=10).to_frame()
    assert list(recs.columns) == ["user_id", "rank", "movie_id", "score", "fallback"]
    assert not recs["fallback"].any()
    seen = set(zip(ratings["user_id"], ratings["movie_id"], strict=True))
    assert not any(
        (u, m) in seen for u, m in zip(recs["user_id"], recs["movie_id"], strict=True)
    )
    for _, group in recs.groupby("user_id", sort=False):
        assert group["rank"].tolist() == list(range(1, 11))
        assert group["score"].is_monotonic_decreasing
        assert group["movie_id"].is_unique
    # Users are answered in the order asked.
    assert recs["user_id"].drop_duplicates().tolist() == list(users)


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_batch_recommend_equals_single_user_calls(fitted, ratings, name):
    model = fitted[name]
    users = ratings["user_id"].unique()[:5]
    batch = model.recommend(users, k=4).to_frame()
    singles = pd.concat([model.recommend(u, k=4).to_frame() for u in users])
    np.testing.assert_array_equal(batch["movie_id"], singles["movie_id"])
    np.testing.assert_allclose(batch["score"], singles["score"], rtol=1e-5)


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_recommend_returns_fewer_rows_when_candidates_run_out(fitted, ratings, name):
    model = fitted[name]
    user = ratings["user_id"].value_counts().index[0]
    n_seen = int((ratings["user_id"] == user).sum())
    n_movies = len(model.movie_ids_)
    recs = model.recommend(user, k=n_movies + 10)
    if name == "ease":  # movies below min_item_count are never recommended
        assert len(recs) <= n_movies - n_seen
    else:
        assert len(recs) == n_movies - n_seen
    all_recs = model.recommend(user, k=n_movies + 10, exclude_seen=False)
    assert len(all_recs) >= len(recs)


@pytest.mark.parametrize("name", ["bias", "mf", "item_knn", "blend"])
def test_recommend_scores_are_unclipped_predictions(fitted, ratings, name):
    model = fitted[name]
    recs = model.recommend(ratings["user_id"].unique()[:3], k=5).to_frame()
    pred = model.predict(recs[["user_id", "movie_id"]])
    np.testing.assert_allclose(np.clip(recs["score"], 0.5, 5.0), pred, rtol=1e-5)


@pytest.mark.parametrize("name", WITH_SIMILAR)
def test_similar_items(fitted, ratings, name):
    model = fitted[name]
    movie = ratings["movie_id"].value_counts().index[0]
    sims = model.similar_items(movie, k=5)
    assert isinstance(sims, SimilarItems)
    frame = sims.to_frame()
    assert list(frame.columns) == [
        "movie_id",
        "rank",
        "similar_movie_id",
        "score",
        "fallback",
    ]
    assert 0 < len(frame) <= 5
    assert (frame["movie_id"] == movie).all()
    assert movie not in set(frame["similar_movie_id"])
    assert frame["score"].is_monotonic_decreasing
    assert not frame["fallback"].any()
    unknown = model.similar_items(-42, k=3)
    assert unknown.fallback.all()
    assert len(unknown) == 3


@pytest.mark.parametrize("name", ["popularity", "bias"])
def test_models_without_item_vectors_have_no_similar_items(fitted, name):
    assert not hasattr(fitted[name], "similar_items")


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_pickle_round_trip_is_exact(fitted, ratings, name):
    model = fitted[name]
    restored = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own bytes
    np.testing.assert_array_equal(restored.predict(ratings), model.predict(ratings))
    users = ratings["user_id"].unique()[:5]
    a, b = model.recommend(users, k=5), restored.recommend(users, k=5)
    np.testing.assert_array_equal(a.movie_id, b.movie_id)
    np.testing.assert_array_equal(a.score, b.score)


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_cloudpickle_round_trip_is_exact(fitted, ratings, name):
    import cloudpickle  # MLflow pickles pyfunc models with it

    model = fitted[name]
    restored = cloudpickle.loads(cloudpickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(ratings), model.predict(ratings))


def _sha(model) -> str:
    return hashlib.sha256(pickle.dumps(model)).hexdigest()


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_fitting_twice_gives_identical_models(ratings, name):
    first = small_estimators()[name]
    second = clone(first)
    first.fit(ratings, ratings["rating"])
    second.fit(ratings, ratings["rating"])
    assert _sha(first) == _sha(second)
    # Refitting the same instance also reproduces the model.
    digest = _sha(first)
    assert _sha(first.fit(ratings, ratings["rating"])) == digest


def test_random_state_matters(ratings):
    a = MatrixFactorization(n_factors=4, n_epochs=3, random_state=1).fit(
        ratings, ratings["rating"]
    )
    b = MatrixFactorization(n_factors=4, n_epochs=3, random_state=2).fit(
        ratings, ratings["rating"]
    )
    assert not np.array_equal(a.item_factors_, b.item_factors_)


def test_mf_threads_are_deterministic_and_shape_the_model(ratings):
    # GIVEN the same seed, WHEN fitted on 2 threads twice and on 1 thread
    def fit(n_jobs: int) -> MatrixFactorization:
        return MatrixFactorization(
            n_factors=4, n_epochs=3, n_jobs=n_jobs, random_state=1
        ).fit(ratings, ratings["rating"])

    first, second, single = fit(2), fit(2), fit(1)
    # THEN 2 threads reproduce their model exactly; 1 thread is another order
    np.testing.assert_array_equal(first.item_factors_, second.item_factors_)
    np.testing.assert_array_equal(first.user_factors_, second.user_factors_)
    assert not np.array_equal(first.item_factors_, single.item_factors_)


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_numeric_array_input_equals_frame_input(ratings, name):
    # (an array has no timestamp column: the frame is given none either)
    pairs = ratings[["user_id", "movie_id"]]
    model = clone(small_estimators()[name])
    model.fit(pairs.to_numpy(), ratings["rating"].to_numpy())
    reference = clone(small_estimators()[name]).fit(pairs, ratings["rating"])
    np.testing.assert_allclose(
        model.predict(pairs.to_numpy()), reference.predict(pairs)
    )


def test_score_is_negative_rmse(fitted, ratings):
    model = fitted["bias"]
    err = np.sqrt(np.mean((model.predict(ratings) - ratings["rating"]) ** 2))
    assert model.score(ratings, ratings["rating"]) == pytest.approx(-err)


def test_grid_search_selects_by_negative_rmse(ratings):
    search = GridSearchCV(
        BiasBaseline(),
        {"reg_item": [0.0, 10.0, 1e6]},
        cv=KFold(3, shuffle=True, random_state=0),
    )
    search.fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    # A huge item penalty removes the item biases, which must lose.
    assert search.best_params_["reg_item"] != 1e6
    assert search.best_score_ < 0


def test_not_fitted_error_message():
    msg = (
        "This EASE instance is not fitted yet: expected a call to 'fit' with "
        "appropriate arguments before using this method"
    )
    with pytest.raises(NotFittedError, match=re.escape(msg)):
        EASE().recommend([1])


def test_frame_without_id_columns_is_rejected(ratings):
    msg = (
        "X is missing column(s) ['movie_id']: expected a DataFrame with columns "
        "'user_id' and 'movie_id', got columns ['user_id', 'rating']"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        BiasBaseline().fit(ratings[["user_id", "rating"]], ratings["rating"])


def test_missing_ids_are_rejected():
    X = pd.DataFrame({"user_id": [1.0, None], "movie_id": [1, 2]})
    msg = "column 'user_id' contains missing values: expected every id to be set, got 1 missing"
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        BiasBaseline().fit(X, [3.0, 4.0])


def test_y_length_must_match(ratings):
    with pytest.raises(InvalidInputError, match="y is not a valid vector of ratings"):
        BiasBaseline().fit(ratings, ratings["rating"].iloc[:-1])


@pytest.mark.parametrize(
    ("estimator", "msg"),
    [
        (
            MatrixFactorization(n_factors=0),
            "n_factors must be an integer >= 1, got 0 instead",
        ),
        (
            MatrixFactorization(lr=-1.0),
            "lr must be a finite real number > 0, got -1.0 instead",
        ),
        (
            MatrixFactorization(n_jobs=0),
            "n_jobs must be an integer >= 1, got 0 instead",
        ),
        (EASE(dropout=1.0), "dropout must be in [0, 1), got 1.0 instead"),
        (
            BiasBaseline(reg_user="a"),
            "reg_user must be a finite real number >= 0, got 'a' instead",
        ),
    ],
)
def test_invalid_hyperparameters_are_reported_at_fit(ratings, estimator, msg):
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        estimator.fit(ratings, ratings["rating"])


def test_recommend_validates_k_and_ids(fitted):
    model = fitted["bias"]
    with pytest.raises(
        InvalidParameterError,
        match=re.escape("k must be an integer >= 1, got 0 instead"),
    ):
        model.recommend([1], k=0)
    msg = "user_ids must be a scalar or a 1-D array-like, got an array of shape (1, 2)"
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        model.recommend([[1, 2]])


def test_recommendations_records_are_json_ready(fitted, ratings):
    recs = fitted["mf"].recommend(ratings["user_id"].iloc[0], k=2)
    records = recs.to_records()
    assert [r["rank"] for r in records] == [1, 2]
    assert {type(v) for r in records for v in r.values()} <= {int, float, bool}
