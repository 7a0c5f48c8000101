"""Each model against a slow, obviously-correct reference implementation."""

from __future__ import annotations

import heapq
import re

import numpy as np
import pandas as pd
import pytest

from recsys import (
    EASE,
    BiasBaseline,
    BlendRecommender,
    InvalidInputError,
    InvalidParameterError,
    ItemKNN,
    MatrixFactorization,
    PopularityRecommender,
    rmse_error,
)


@pytest.fixture(scope="module")
def tiny(ratings) -> pd.DataFrame:
    """A 1,500-rating slice, small enough for pure-Python references."""
    keep = ratings["user_id"].isin(ratings["user_id"].unique()[:40])
    return ratings[keep].reset_index(drop=True)


def _reference_biases(frame, reg_u, reg_i, n_epochs):
    mu = frame["rating"].mean()
    bu = dict.fromkeys(frame["user_id"].unique(), 0.0)
    bi = dict.fromkeys(frame["movie_id"].unique(), 0.0)
    rows = list(frame[["user_id", "movie_id", "rating"]].itertuples(index=False))
    for _ in range(n_epochs):
        num, cnt = {}, {}
        for u, i, r in rows:
            num[i] = num.get(i, 0.0) + r - mu - bu[u]
            cnt[i] = cnt.get(i, 0) + 1
        bi = {i: num[i] / (reg_i + cnt[i]) for i in num}
        num, cnt = {}, {}
        for u, i, r in rows:
            num[u] = num.get(u, 0.0) + r - mu - bi[i]
            cnt[u] = cnt.get(u, 0) + 1
        bu = {u: num[u] / (reg_u + cnt[u]) for u in num}
    return mu, bu, bi


def test_bias_baseline_matches_surprise_als(tiny):
    model = BiasBaseline(reg_user=15, reg_item=10, n_epochs=10).fit(
        tiny, tiny["rating"]
    )
    mu, bu, bi = _reference_biases(tiny, 15, 10, 10)
    assert model.global_mean_ == pytest.approx(mu)
    np.testing.assert_allclose(
        model.user_bias_, [bu[u] for u in model.user_ids_], atol=1e-6
    )
    np.testing.assert_allclose(
        model.item_bias_, [bi[i] for i in model.movie_ids_], atol=1e-6
    )


def _reference_knn(frame, test_pairs, k, shrinkage):
    """Surprise KNNBaseline (item-based, pearson_baseline), written out in full."""
    mu, bu, bi = _reference_biases(frame, 15, 10, 10)
    by_user, by_item = {}, {}
    for u, i, r in frame[["user_id", "movie_id", "rating"]].itertuples(index=False):
        d = r - mu - bu[u] - bi[i]
        by_user.setdefault(u, {})[i] = d
        by_item.setdefault(i, {})[u] = d

    def sim(i, j):
        common = by_item[i].keys() & by_item[j].keys()
        n = len(common)
        if n < 2:
            return 0.0
        prod = sum(by_item[i][u] * by_item[j][u] for u in common)
        sq_i = sum(by_item[i][u] ** 2 for u in common)
        sq_j = sum(by_item[j][u] ** 2 for u in common)
        if sq_i * sq_j == 0:
            return 0.0
        return prod / np.sqrt(sq_i * sq_j) * (n - 1) / (n - 1 + shrinkage)

    out = []
    for u, i in test_pairs:
        est = mu + bu[u] + bi[i]
        nbrs = [(sim(i, j), d) for j, d in by_user[u].items() if j != i]
        top = heapq.nlargest(k, nbrs, key=lambda t: t[0])
        num = sum(s * d for s, d in top if s > 0)
        den = sum(s for s, _ in top if s > 0)
        out.append(est + (num / den if den > 0 else 0.0))
    return np.array(out)


def test_item_knn_matches_surprise_formula(tiny, rng):
    # GIVEN every similarity kept (max_neighbors >= n_movies)
    model = ItemKNN(k=5, shrinkage=10, max_neighbors=10_000).fit(tiny, tiny["rating"])
    users = rng.choice(tiny["user_id"].unique(), 60)
    movies = rng.choice(tiny["movie_id"].unique(), 60)
    # THEN predictions equal the literal Surprise algorithm
    expected = _reference_knn(tiny, list(zip(users, movies, strict=True)), 5, 10)
    pred, fallback = model.predict_with_fallback(
        pd.DataFrame({"user_id": users, "movie_id": movies})
    )
    assert not fallback.any()
    np.testing.assert_allclose(pred, np.clip(expected, 0.5, 5.0), atol=1e-5)


def test_item_knn_truncation_keeps_the_best_neighbours(tiny):
    full = ItemKNN(max_neighbors=10_000).fit(tiny, tiny["rating"])
    short = ItemKNN(max_neighbors=3).fit(tiny, tiny["rating"])
    for row in range(len(full.movie_ids_)):
        lo, hi = full.neighbor_indptr_[row], full.neighbor_indptr_[row + 1]
        s_lo, s_hi = short.neighbor_indptr_[row], short.neighbor_indptr_[row + 1]
        assert s_hi - s_lo == min(3, hi - lo)
        np.testing.assert_array_equal(
            short.neighbor_sims_[s_lo:s_hi], full.neighbor_sims_[lo : lo + s_hi - s_lo]
        )
        assert np.all(np.diff(full.neighbor_sims_[lo:hi]) <= 0)
    assert full.neighbors_.shape == (len(full.movie_ids_),) * 2


@pytest.mark.parametrize("exponent", [0.0, 0.5])
def test_ease_matches_closed_form(tiny, exponent):
    lam, p = 30.0, 0.2
    model = EASE(
        lambda_reg=lam, dropout=p, user_weight_exponent=exponent, min_item_count=1
    ).fit(tiny, tiny["rating"])
    x = pd.crosstab(tiny["user_id"], tiny["movie_id"]).clip(upper=1).to_numpy(float)
    weights = x.sum(axis=1) ** -exponent
    gram = (x * weights[:, None]).T @ x
    inv = np.linalg.inv(gram + np.diag(lam + p / (1 - p) * np.diag(gram)))
    expected = np.eye(len(gram)) - inv / np.diag(inv)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_, expected, atol=2e-4)
    # A user's scores are x_u @ B.
    scores = model._score_users(np.array([0, 3]))
    np.testing.assert_allclose(scores, x[[0, 3]] @ expected, atol=1e-3)


def test_ease_skips_rare_movies(tiny):
    model = EASE(min_item_count=3).fit(tiny, tiny["rating"])
    counts = tiny["movie_id"].value_counts()
    assert set(model.movie_ids_[model.modelled_items_]) == set(
        counts[counts >= 3].index
    )
    recs = model.recommend(tiny["user_id"].unique(), k=20)
    assert set(recs.movie_id) <= set(counts[counts >= 3].index)


def test_ease_max_items_models_the_most_rated_movies(tiny):
    # GIVEN a cap of 15 movies, fewer than the tiny slice has
    capped = EASE(lambda_reg=30.0, min_item_count=1, max_items=15).fit(
        tiny, tiny["rating"]
    )
    # THEN the 15 most rated are modelled (ties: the lower id first)
    counts = tiny["movie_id"].value_counts()
    ranked = sorted(counts.index, key=lambda movie: (-counts[movie], movie))
    assert sorted(capped.movie_ids_[capped.modelled_items_]) == sorted(ranked[:15])
    # AND the weights are EASE's on those movies' ratings alone
    alone = tiny[tiny["movie_id"].isin(ranked[:15])]
    reference = EASE(lambda_reg=30.0, min_item_count=1).fit(alone, alone["rating"])
    np.testing.assert_array_equal(capped.weights_, reference.weights_)
    # AND only they are recommended
    recs = capped.recommend(tiny["user_id"].unique(), k=20)
    assert set(recs.movie_id) <= set(ranked[:15])


def test_ease_gram_blocks_do_not_change_the_weights(tiny, monkeypatch):
    whole = EASE(lambda_reg=30.0, min_item_count=1).fit(tiny, tiny["rating"])
    monkeypatch.setattr("recsys.ease._GRAM_BLOCK", 7)
    blocked = EASE(lambda_reg=30.0, min_item_count=1).fit(tiny, tiny["rating"])
    assert len(whole.modelled_items_) > 7 * 3
    np.testing.assert_array_equal(blocked.weights_, whole.weights_)


def test_ease_max_items_must_be_a_positive_integer(tiny):
    msg = "max_items must be an integer >= 1, got 0 instead"
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        EASE(max_items=0).fit(tiny, tiny["rating"])


def test_ease_session_term_matches_its_closed_form(tiny):
    # GIVEN EASE with half of its Gram matrix counting co-ratings by closeness in time
    lam, p, exponent, share, hours = 30.0, 0.2, 0.5, 0.5, 3.0
    model = EASE(
        lambda_reg=lam,
        dropout=p,
        user_weight_exponent=exponent,
        min_item_count=1,
        session_weight=share,
        session_hours=hours,
    ).fit(tiny, tiny["rating"])
    # THEN its weights are the closed form on (1 - s) X^T W X + s S, S summing
    # w_u exp(-|t_a - t_b| / scale) over each user's pairs of ratings (pairs more
    # than 12 scales apart left out), computed here pair by pair
    movies = np.sort(tiny["movie_id"].unique())
    col = {m: i for i, m in enumerate(movies)}
    x = pd.crosstab(tiny["user_id"], tiny["movie_id"]).clip(upper=1).to_numpy(float)
    weights = x.sum(axis=1) ** -exponent
    session = np.zeros((len(movies), len(movies)))
    for w, (_, rows) in zip(weights, tiny.groupby("user_id"), strict=True):
        cols = rows["movie_id"].map(col).to_numpy()
        gap = (
            np.abs(
                np.subtract.outer(
                    rows["timestamp"].to_numpy(), rows["timestamp"].to_numpy()
                )
            )
            / 3600
        )
        kernel = np.where(gap <= 12 * hours, np.exp(-gap / hours), 0.0)
        np.add.at(session, (cols[:, None], cols[None, :]), w * kernel)
    gram = (1 - share) * (x * weights[:, None]).T @ x + share * session
    assert np.count_nonzero(session) < np.count_nonzero(gram), "no pair was far apart"
    np.testing.assert_allclose(np.diag(session), np.diag((x * weights[:, None]).T @ x))
    inv = np.linalg.inv(gram + np.diag(lam + p / (1 - p) * np.diag(gram)))
    expected = np.eye(len(gram)) - inv / np.diag(inv)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_, expected, atol=2e-4)
    # AND the time-blind EASE is a different model
    blind = EASE(lambda_reg=lam, dropout=p, min_item_count=1).fit(tiny, tiny["rating"])
    assert np.abs(blind.weights_ - model.weights_).max() > 1e-3


def test_ease_session_term_needs_timestamps_and_valid_values(tiny):
    pairs = tiny[["user_id", "movie_id"]]
    with pytest.raises(InvalidInputError) as info:
        EASE(session_weight=0.5).fit(pairs, tiny["rating"])
    assert str(info.value) == (
        "session_weight=0.5 needs the ratings' times: expected a DataFrame with a "
        "'timestamp' column (Unix seconds), got DataFrame with columns "
        "['user_id', 'movie_id']"
    )
    # without the session term, no timestamp is needed
    EASE(session_weight=0.0).fit(pairs, tiny["rating"])
    for params, msg in (
        ({"session_weight": 1.5}, "session_weight must be in [0, 1], got 1.5 instead"),
        ({"session_hours": 0.0}, "session_hours must be > 0, got 0.0 instead"),
        (
            {"session_weight": "half"},
            "session_weight must be a finite real number >= 0, got 'half' instead",
        ),
    ):
        with pytest.raises(InvalidParameterError, match="^" + re.escape(msg) + "$"):
            EASE(**params).fit(tiny, tiny["rating"])


def test_ease_predict_is_the_bias_baseline(tiny):
    model = EASE().fit(tiny, tiny["rating"])
    np.testing.assert_allclose(
        model.predict(tiny),
        np.clip(
            model.global_mean_
            + model.fallback_user_bias_[
                np.searchsorted(model.user_ids_, tiny["user_id"])
            ]
            + model.fallback_item_bias_[
                np.searchsorted(model.movie_ids_, tiny["movie_id"])
            ],
            0.5,
            5.0,
        ),
    )


def test_mf_learns_beyond_biases(ratings):
    bias = BiasBaseline().fit(ratings, ratings["rating"])
    mf = MatrixFactorization(n_factors=16, n_epochs=30, random_state=0).fit(
        ratings, ratings["rating"]
    )
    assert rmse_error(ratings["rating"], mf.predict(ratings)) < 0.95 * rmse_error(
        ratings["rating"], bias.predict(ratings)
    )


def test_mf_similar_items_is_cosine(ratings):
    mf = MatrixFactorization(n_factors=8, n_epochs=5, random_state=0).fit(
        ratings, ratings["rating"]
    )
    movie = mf.movie_ids_[3]
    sims = mf.similar_items(movie, k=4)
    q = mf.item_factors_.astype(float)
    cos = q @ q[3] / (np.linalg.norm(q, axis=1) * np.linalg.norm(q[3]))
    cos[3] = -np.inf
    best = np.argsort(-cos)[:4]
    np.testing.assert_array_equal(sims.similar_movie_id, mf.movie_ids_[best])
    np.testing.assert_allclose(sims.score, cos[best], rtol=1e-5)


def test_popularity_ranks_by_count(ratings):
    model = PopularityRecommender().fit(ratings, ratings["rating"])
    recs = model.recommend([-1], k=10)
    counts = ratings["movie_id"].value_counts()
    np.testing.assert_array_equal(
        np.sort(counts.loc[recs.movie_id].to_numpy())[::-1],
        counts.loc[recs.movie_id].to_numpy(),
    )
    assert counts.loc[recs.movie_id[-1]] >= counts.iloc[10]


def test_blend_beats_its_components_on_held_out_data(ratings):
    blend = BlendRecommender(random_state=0, validation_size=0.2).fit(
        ratings, ratings["rating"]
    )
    scores = blend.validation_rmse_
    assert scores["blend"] < min(v for k, v in scores.items() if k != "blend")
    assert np.isfinite(blend.coef_).all()
    names = [name for name, _ in blend.estimators_]
    assert names == ["bias", "mf", "item_knn"]


def test_blend_rejects_ranking_components(ratings):
    msg = (
        "blend component 'ease' must be a recsys rating model (bias, mf, item_knn, "
        "...), got EASE"
    )
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        BlendRecommender([("ease", EASE())]).fit(ratings, ratings["rating"])
