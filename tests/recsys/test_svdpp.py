"""SVD++: implicit feedback from the training pairs only, seeded, beyond biases."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.base import clone

from recsys import BiasBaseline, InvalidParameterError, SVDpp, random_split, rmse_error


def small() -> SVDpp:
    return SVDpp(n_factors=8, n_epochs=15, random_state=0)


def test_user_vectors_are_explicit_plus_normalized_implicit_sum(ratings):
    # GIVEN an SVD++ fitted on ratings
    model = small().fit(ratings, ratings["rating"])
    # WHEN the user vector is recomputed from its definition
    users = np.searchsorted(model.user_ids_, ratings["user_id"].to_numpy())
    items = np.searchsorted(model.movie_ids_, ratings["movie_id"].to_numpy())
    for u in (0, 7, len(model.user_ids_) - 1):
        rated = np.unique(items[users == u])
        expected = model.user_factors_[u] + model.implicit_factors_[rated].sum(
            axis=0
        ) / np.sqrt(len(rated))
        # THEN it is what predictions use
        np.testing.assert_allclose(model.user_vectors_[u], expected, rtol=1e-5)
    pred = model.predict(ratings.head(50))
    u, i = users[:50], items[:50]
    manual = (
        model.global_mean_
        + model.user_bias_[u]
        + model.item_bias_[i]
        + np.einsum("ij,ij->i", model.user_vectors_[u], model.item_factors_[i])
    )
    np.testing.assert_allclose(pred, np.clip(manual, 0.5, 5.0), rtol=1e-5)


def test_the_pairs_asked_for_are_never_implicit_feedback(ratings):
    # GIVEN a fitted model
    model = small().fit(ratings, ratings["rating"])
    pairs = ratings[["user_id", "movie_id"]].sample(300, random_state=1)
    # WHEN pairs are predicted together, one at a time, or among other pairs
    together = model.predict(pairs)
    alone = np.array([model.predict(pairs.iloc[[k]])[0] for k in range(30)])
    # THEN every prediction depends on its own pair only
    np.testing.assert_array_equal(together[:30], alone)
    np.testing.assert_array_equal(model.predict(pairs.iloc[::-1])[::-1], together)


def test_same_seed_same_model_other_seed_other_model(ratings):
    a = small().fit(ratings, ratings["rating"])
    b = clone(small()).fit(ratings, ratings["rating"])
    c = small().set_params(random_state=1).fit(ratings, ratings["rating"])
    np.testing.assert_array_equal(a.user_vectors_, b.user_vectors_)
    np.testing.assert_array_equal(a.implicit_factors_, b.implicit_factors_)
    assert not np.array_equal(a.user_vectors_, c.user_vectors_)


def test_svdpp_learns_beyond_biases(ratings):
    # GIVEN a held-out share of synthetic ratings with latent structure
    train, test = random_split(ratings, test_size=0.2, random_state=0)
    # WHEN SVD++ and the bias baseline are fitted on the rest
    svdpp = SVDpp(n_factors=8, n_epochs=30, random_state=0)
    svdpp.fit(train, train["rating"])
    bias = BiasBaseline().fit(train, train["rating"])
    # THEN SVD++ predicts the held-out ratings better
    assert rmse_error(test["rating"], svdpp.predict(test)) < rmse_error(
        test["rating"], bias.predict(test)
    )


def test_a_bad_hyperparameter_is_one_line(ratings):
    msg = "reg_implicit must be a finite real number >= 0, got -1.0 instead"
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        SVDpp(reg_implicit=-1.0).fit(ratings, ratings["rating"])
