from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
    make_movielens_like,
)


def small_estimators() -> dict[str, object]:
    """One small, fast configuration of every estimator, by short name."""
    return {
        "popularity": PopularityRecommender(),
        "bias": BiasBaseline(),
        "mf": MatrixFactorization(n_factors=8, n_epochs=10, random_state=0),
        "item_knn": ItemKNN(k=10, max_neighbors=50),
        "svdpp": SVDpp(n_factors=8, n_epochs=10, random_state=0),
        "ease": EASE(lambda_reg=20.0, min_item_count=1),
        "rated_ease": RatedEASE(
            lambda_reg=20.0, dropout=0.2, min_item_count=1, rating_weight=0.2
        ),
        "blend": BlendRecommender(
            [
                ("bias", BiasBaseline()),
                ("mf", MatrixFactorization(n_factors=8, n_epochs=10)),
                ("item_knn", ItemKNN(k=10, max_neighbors=50)),
            ],
            random_state=0,
        ),
        # non-default regularization: its fallback biases differ from the defaults
        "hybrid": HybridRecommender(
            BiasBaseline(reg_user=1.0, reg_item=2.0),
            EASE(lambda_reg=20.0, min_item_count=1),
        ),
    }


ESTIMATOR_NAMES = list(small_estimators())


@pytest.fixture(scope="session")
def ratings() -> pd.DataFrame:
    """About 6,000 synthetic ratings of 120 users on 150 movies."""
    return make_movielens_like(6_000, n_users=120, n_movies=150, random_state=7)


@pytest.fixture(scope="session")
def fitted(ratings: pd.DataFrame) -> dict[str, object]:
    """Every small estimator fitted once on ``ratings`` (do not mutate)."""
    return {
        name: est.fit(ratings, ratings["rating"])
        for name, est in small_estimators().items()
    }


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
