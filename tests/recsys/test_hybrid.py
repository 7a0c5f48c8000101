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


def test_components_configured_as_fitted_estimators_are_reused() -> None:
    # GIVEN an MF and an EASE fitted on the data, and another EASE configuration
    X, y = data()
    mf = MatrixFactorization(n_factors=4, n_epochs=5, random_state=1).fit(X, y)
    ease = EASE(lambda_reg=10.0, min_item_count=1).fit(X, y)
    other = EASE(lambda_reg=99.0, min_item_count=1).fit(X, y)
    rating = MatrixFactorization(n_factors=4, n_epochs=5, random_state=1)
    ranking = EASE(lambda_reg=10.0, min_item_count=1)
    # WHEN a hybrid configured as the two is fitted with them to reuse
    reused = HybridRecommender(rating, ranking).fit(
        X, y, reuse={"other": other, "mf": mf, "ease": ease}
    )
    # THEN it takes the fitted objects as they are, and answers as a full fit does
    assert reused.reused_ == {"rating_estimator": "mf", "ranking_estimator": "ease"}
    assert reused.rating_estimator_ is mf and reused.ranking_estimator_ is ease
    full = HybridRecommender(rating, ranking).fit(X, y)
    assert full.reused_ == {}
    users = [1, 2, 999]
    np.testing.assert_array_equal(
        reused.recommend(users, k=5).movie_id, full.recommend(users, k=5).movie_id
    )
    np.testing.assert_array_equal(reused.predict(X), full.predict(X))
    for name in ("global_mean_", "fallback_user_bias_", "fallback_item_bias_"):
        np.testing.assert_array_equal(getattr(reused, name), getattr(full, name))
    # AND a component configured otherwise is fitted (another seed is another MF)
    reseeded = MatrixFactorization(n_factors=4, n_epochs=5, random_state=2)
    partly = HybridRecommender(reseeded, ranking).fit(
        X, y, reuse={"mf": mf, "ease": ease}
    )
    assert partly.reused_ == {"ranking_estimator": "ease"}
    assert partly.rating_estimator_ is not mf


def test_a_reused_component_fitted_on_other_ratings_is_a_one_line_error() -> None:
    X, y = data()
    ease = EASE(lambda_reg=10.0, min_item_count=1).fit(X, np.minimum(y + 1, 5))
    hybrid = HybridRecommender(BiasBaseline(), EASE(lambda_reg=10.0, min_item_count=1))
    with pytest.raises(InvalidParameterError) as info:
        hybrid.fit(X, y, reuse={"ease": ease})
    assert str(info.value) == (
        "reused ranking_estimator EASE was fitted on other ratings than the hybrid: "
        "expected equal global_mean_"
    )
    fewer = EASE(lambda_reg=10.0, min_item_count=1).fit(X.iloc[:-1], y[:-1])
    with pytest.raises(InvalidParameterError, match=r"expected equal .*seen_indices_"):
        hybrid.fit(X, y, reuse={"fewer": fewer})


def test_same_configuration_compares_nested_estimators_by_value() -> None:
    from recsys.hybrid import same_configuration

    def blend(reg: float) -> object:
        return make_estimator(
            "blend",
            {"estimators": [{"name": "bias"}, {"name": "mf", "params": {"reg": reg}}]},
        )

    assert same_configuration(blend(0.1), blend(0.1))
    assert not same_configuration(blend(0.1), blend(0.2))
    assert not same_configuration(EASE(), MatrixFactorization())
    assert not same_configuration(1, 1.0)
