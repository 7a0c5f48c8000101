"""HybridRecommender: ratings from one component, rankings from the other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import (
    EASE,
    BiasBaseline,
    HybridRecommender,
    MatrixFactorization,
    make_estimator,
)
from recsys.exceptions import InvalidParameterError


def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    users = rng.integers(1, 60, 2000)
    movies = rng.integers(1, 80, 2000)
    frame = pd.DataFrame({"user_id": users, "movie_id": movies}).drop_duplicates()
    ratings = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], len(frame))
    return frame.reset_index(drop=True), ratings


def test_each_question_goes_to_its_component() -> None:
    X, y = data()
    rating = MatrixFactorization(n_factors=4, n_epochs=5, random_state=1)
    ranking = EASE(lambda_reg=10.0, min_item_count=1)
    hybrid = HybridRecommender(rating, ranking).fit(X, y)
    mf = MatrixFactorization(n_factors=4, n_epochs=5, random_state=1).fit(X, y)
    ease = EASE(lambda_reg=10.0, min_item_count=1).fit(X, y)
    pairs = pd.DataFrame({"user_id": [1, 2, 999], "movie_id": [3, 4, 3]})
    np.testing.assert_array_equal(hybrid.predict(pairs), mf.predict(pairs))
    np.testing.assert_array_equal(
        hybrid.predict_with_fallback(pairs)[1], [False, False, True]
    )
    got, want = hybrid.recommend([1, 2, 999], k=5), ease.recommend([1, 2, 999], k=5)
    np.testing.assert_array_equal(got.movie_id, want.movie_id)
    np.testing.assert_array_equal(got.fallback, want.fallback)
    np.testing.assert_array_equal(
        hybrid.similar_items(3, k=4).similar_movie_id,
        ease.similar_items(3, k=4).similar_movie_id,
    )


def test_partly_unknown_pairs_are_rated_by_the_rating_component() -> None:
    # GIVEN a rating component whose biases differ from the default fallback's
    X, y = data()
    rating = BiasBaseline(reg_user=0.0, reg_item=0.0)
    hybrid = HybridRecommender(rating, EASE(min_item_count=1)).fit(X, y)
    alone = BiasBaseline(reg_user=0.0, reg_item=0.0).fit(X, y)
    # WHEN the user, the movie or both are unknown
    pairs = pd.DataFrame({"user_id": [1, 999, 1, 999], "movie_id": [3, 3, 999, 999]})
    # THEN the hybrid answers exactly as its rating component
    np.testing.assert_array_equal(hybrid.predict(pairs), alone.predict(pairs))


def test_built_from_config_specs() -> None:
    hybrid = make_estimator(
        "hybrid",
        {
            "rating_estimator": {"name": "bias"},
            "ranking_estimator": {"name": "ease", "params": {"lambda_reg": 5.0}},
        },
    )
    assert isinstance(hybrid, HybridRecommender)
    assert hybrid.get_params()["ranking_estimator__lambda_reg"] == 5.0


def test_bad_component_spec_is_a_one_line_error() -> None:
    with pytest.raises(
        InvalidParameterError,
        match="hybrid rating_estimator spec must have key 'name' and optionally "
        "'params', got keys \\['params'\\]",
    ):
        make_estimator("hybrid", {"rating_estimator": {"params": {}}})
