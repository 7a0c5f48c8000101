"""scikit-learn's estimator checks, run on every recsys estimator."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from recsys import (
    EASE,
    BiasBaseline,
    BlendRecommender,
    HybridRecommender,
    ItemKNN,
    MatrixFactorization,
    PopularityRecommender,
    RatedEASE,
    SVDpp,
)

ESTIMATOR_INSTANCES = [
    PopularityRecommender(),
    BiasBaseline(),
    MatrixFactorization(n_factors=4, n_epochs=3, random_state=0),
    ItemKNN(k=5, max_neighbors=10),
    SVDpp(n_factors=4, n_epochs=3, random_state=0),
    EASE(lambda_reg=10.0, min_item_count=1),
    RatedEASE(lambda_reg=10.0, min_item_count=1, popularity_exponent=0.1),
    BlendRecommender(
        [
            ("bias", BiasBaseline()),
            ("mf", MatrixFactorization(n_factors=4, n_epochs=3)),
        ],
        random_state=0,
    ),
    BlendRecommender(
        [("bias", BiasBaseline()), ("svdpp", SVDpp(n_factors=4, n_epochs=3))],
        n_folds=3,
        alphas=(0.1, 10.0),
        random_state=0,
    ),
    HybridRecommender(
        rating_estimator=MatrixFactorization(n_factors=4, n_epochs=3, random_state=0),
        ranking_estimator=EASE(lambda_reg=10.0, min_item_count=1),
    ),
]


@parametrize_with_checks(ESTIMATOR_INSTANCES)
def test_sklearn_compatible(estimator, check):
    check(estimator)
