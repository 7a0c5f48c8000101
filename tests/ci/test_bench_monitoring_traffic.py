"""bench/monitoring_traffic.py breaks a deployment's model without touching it."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys import BiasBaseline


@pytest.fixture
def traffic_bench(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("monitoring_traffic")


def test_a_scrambled_model_ranks_other_movies_and_keeps_its_deployment(
    traffic_bench,
) -> None:
    # GIVEN a deployment of a model that knows which movies are liked
    rng = np.random.default_rng(0)
    users, movies = rng.integers(1, 60, 3000), rng.integers(1, 80, 3000)
    ratings = pd.DataFrame(
        {
            "user_id": users,
            "movie_id": movies,
            "rating": np.clip(
                np.round(1 + movies / 20 + rng.normal(0, 0.5, 3000)), 1, 5
            ),
            "timestamp": np.arange(3000),
        }
    )
    model = BiasBaseline().fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    deployment = SimpleNamespace(model=model, identity="v1-abc", reference="ref")
    before = model.item_bias_.copy()
    popular = model.popular_items_.copy()
    # WHEN it is scrambled
    broken = traffic_bench.scrambled(deployment, seed=1)
    # THEN the same biases sit on other movies, for known and cold users alike
    assert sorted(broken.model.item_bias_) == sorted(before)
    assert not np.array_equal(broken.model.item_bias_, before)
    assert broken.model.fallback_item_bias_ is broken.model.item_bias_
    for user in (1, 10_000):  # known, new (the popularity order)
        top = model.recommend(np.array([user]), 10).movie_id.tolist()
        assert broken.model.recommend(np.array([user]), 10).movie_id.tolist() != top
    # AND the deployment it stands for, and the intact model, are unchanged
    assert (broken.identity, broken.reference) == ("v1-abc", "ref")
    assert np.array_equal(model.item_bias_, before)
    assert np.array_equal(model.popular_items_, popular)
    assert deployment.model is model
