"""The blend's time-aware bias, cross-fitting and penalty choice."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV

from recsys import (
    EASE,
    BiasBaseline,
    BlendRecommender,
    HybridRecommender,
    InvalidInputError,
    InvalidParameterError,
    MatrixFactorization,
    SVDpp,
    make_movielens_like,
    random_split,
    rmse_error,
)
from recsys._days import day_table, days_of, lookup_days
from recsys.blend import _choose_alpha

DAY = 86_400


def blend(**params) -> BlendRecommender:
    return BlendRecommender(
        [
            ("bias", BiasBaseline()),
            ("mf", MatrixFactorization(n_factors=8, n_epochs=10)),
            ("svdpp", SVDpp(n_factors=8, n_epochs=10)),
        ],
        random_state=0,
        **params,
    )


@pytest.fixture(scope="module")
def moody() -> pd.DataFrame:
    """Synthetic ratings given in 4 sessions (days) per user, each with a mood."""
    ratings = make_movielens_like(6_000, n_users=120, n_movies=150, random_state=7)
    rng = np.random.default_rng(0)
    session = rng.integers(0, 4, len(ratings))
    mood = rng.normal(0.0, 0.8, (ratings["user_id"].max() + 1, 4))
    shifted = ratings["rating"] + mood[ratings["user_id"], session]
    return ratings.assign(
        rating=np.clip(np.round(shifted * 2) / 2, 0.5, 5.0),
        timestamp=(ratings["user_id"].to_numpy() * 10 + session) * DAY + 3_600,
    )


def test_same_day_offsets_are_shrunk_means_and_zero_elsewhere():
    # GIVEN residuals of user 0 on day 5 (two) and of user 1 on day 5 (one)
    users = np.array([0, 0, 1])
    days = np.array([5, 5, 5])
    keys, offsets = day_table(users, days, np.array([1.0, 0.5, -2.0]), shrinkage=1.0)
    # WHEN offsets are looked up, for known and unknown (user, day)
    got = lookup_days(keys, offsets, np.array([0, 1, 0, 2]), np.array([5, 5, 6, 5]))
    # THEN they are sum / (n + shrinkage), and 0 where the user rated nothing
    np.testing.assert_allclose(got, [1.5 / 3, -2.0 / 2, 0.0, 0.0])


def test_days_are_utc_days_of_seconds_or_datetimes():
    seconds = pd.DataFrame({"timestamp": [0, DAY - 1, DAY, 10 * DAY + 5]})
    stamps = pd.DataFrame({"timestamp": pd.to_datetime(seconds["timestamp"], unit="s")})
    np.testing.assert_array_equal(days_of(seconds), [0, 0, 1, 10])
    np.testing.assert_array_equal(days_of(stamps), [0, 0, 1, 10])
    assert days_of(np.zeros((2, 2))) is None
    assert days_of(pd.DataFrame({"user_id": [1]})) is None


def test_a_bad_timestamp_column_is_one_line():
    frame = pd.DataFrame({"timestamp": ["yesterday"]})
    msg = (
        "column 'timestamp' must hold Unix seconds or datetimes with no missing "
        "value, got dtype str with 0 missing"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        days_of(frame)


def test_the_same_day_term_helps_when_ratings_share_a_mood(moody):
    # GIVEN ratings whose users' moods change from day to day
    train, test = random_split(moody, test_size=0.2, random_state=0)
    # WHEN the blend is fitted with timestamps
    model = blend(n_folds=1, day_shrinkage=2.0).fit(train, train["rating"])
    # THEN the same-day offset gets weight, and predictions for the day are better
    assert model.day_coef_ > 0.3
    with_day = rmse_error(test["rating"], model.predict(test))
    without = rmse_error(test["rating"], model.predict(test[["user_id", "movie_id"]]))
    assert with_day < without - 0.05


def test_without_timestamps_at_fit_there_is_no_day_term(moody):
    pairs = moody[["user_id", "movie_id"]]
    model = blend(n_folds=1).fit(pairs, moody["rating"])
    assert model.day_coef_ == 0.0
    np.testing.assert_array_equal(model.predict(moody), model.predict(pairs))
    off = blend(n_folds=1, day_shrinkage=None).fit(moody, moody["rating"])
    assert off.day_coef_ == 0.0


def test_cross_fitting_is_seeded_and_gives_out_of_fold_scores(moody):
    # GIVEN two 5-fold blends with the same seed
    a = blend(n_folds=5).fit(moody, moody["rating"])
    b = blend(n_folds=5).fit(moody, moody["rating"])
    # THEN they are the same model, and every component has an out-of-fold RMSE
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict(moody), b.predict(moody))
    assert set(a.validation_rmse_) == {"bias", "mf", "svdpp", "blend"}
    assert a.validation_rmse_["blend"] < a.validation_rmse_["bias"]


def test_the_penalty_is_the_one_ridgecv_chooses():
    # GIVEN a noisy regression whose best penalty is neither end of the grid
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 12))
    y = x @ rng.normal(scale=0.3, size=12) + rng.normal(size=400) + 3.0
    alphas = [0.01, 1.0, 30.0, 100.0, 1e4]
    # WHEN our closed-form leave-one-out choice is made
    chosen = _choose_alpha(x, y, alphas)
    # THEN it is scikit-learn's RidgeCV's (efficient leave-one-out) choice
    assert chosen == RidgeCV(alphas=alphas).fit(x, y).alpha_
    assert chosen not in {alphas[0], alphas[-1]}


def test_empty_alphas_are_one_line(moody):
    msg = "alphas must be a non-empty sequence of ridge penalties >= 0, got [] instead"
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        blend(alphas=[]).fit(moody, moody["rating"])


def test_the_hybrid_passes_timestamps_to_its_blend(moody):
    # GIVEN a hybrid whose ratings come from a time-aware blend
    hybrid = HybridRecommender(
        blend(n_folds=1), EASE(lambda_reg=20.0, min_item_count=1)
    ).fit(moody, moody["rating"])
    # THEN its predictions are the blend's, same-day term included
    np.testing.assert_array_equal(
        hybrid.predict(moody), hybrid.rating_estimator_.predict(moody)
    )
    assert hybrid.rating_estimator_.day_coef_ > 0.0


@pytest.mark.parametrize("n_folds", [1, 3])
def test_each_folds_components_are_let_go_before_the_next_fit(
    moody, monkeypatch, n_folds
):
    import gc
    import weakref

    # GIVEN a blend whose component fits are watched
    fit_components = BlendRecommender._fit_components
    fitted: list[weakref.ref] = []
    alive_at_fit: list[int] = []

    def watched(self, *args, **kwargs):
        gc.collect()
        alive_at_fit.append(sum(ref() is not None for ref in fitted))
        models = fit_components(self, *args, **kwargs)
        fitted.extend(weakref.ref(model) for _, model in models)
        return models

    monkeypatch.setattr(BlendRecommender, "_fit_components", watched)
    # WHEN it is fitted THEN each fit (every fold's, the final one on every rating)
    # starts with no earlier fold's components in memory: at 25M ratings they
    # weigh gigabytes
    model = blend(n_folds=n_folds).fit(moody, moody["rating"])
    assert alive_at_fit == [0] * (n_folds + 1)
    assert [ref() for ref in fitted[-3:]] == [m for _, m in model.estimators_]


def test_predictions_are_made_a_bounded_chunk_at_a_time(moody, monkeypatch):
    import recsys.blend

    # GIVEN a fitted blend and pairs including unknown users and movies
    model = blend(n_folds=1).fit(moody, moody["rating"])
    pairs = pd.concat(
        [moody, pd.DataFrame({"user_id": [10_000, 1], "movie_id": [1, 10_000]})],
        ignore_index=True,
    )[["user_id", "movie_id"]]
    whole, whole_fallback = model.predict_with_fallback(pairs)
    # WHEN the chunk is 7 pairs THEN no design matrix is taller than that, and
    # the predictions are the one-pass ones (each pair's prediction is its own; BLAS
    # sums a matrix-vector product in blocks that depend on its height, so the
    # last bit may differ)
    design = BlendRecommender._design
    rows: list[int] = []

    def watched(self, preds, **kwargs):
        rows.append(len(preds))
        return design(self, preds, **kwargs)

    monkeypatch.setattr(recsys.blend, "_PREDICT_CHUNK", 7)
    monkeypatch.setattr(BlendRecommender, "_design", watched)
    chunked, chunked_fallback = model.predict_with_fallback(pairs)
    assert max(rows) == 7 and sum(rows) == len(moody)
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(chunked_fallback, whole_fallback)
    assert whole_fallback[-2:].tolist() == [True, True]
