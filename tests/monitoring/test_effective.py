"""Effective sample sizes of ratings clustered by user."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reelops_monitoring.effective import (
    effective_size,
    intra_unit_correlation,
    pooled_correlation,
)


def _clustered(rho: float, users: int, per_user: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    user_effect = rng.normal(0, math.sqrt(rho), users)
    noise = rng.normal(0, math.sqrt(1 - rho), (users, per_user))
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(users), per_user),
            "rating": (user_effect[:, None] + noise).ravel(),
        }
    )


@pytest.mark.parametrize("rho", [0.0, 0.2, 0.6])
def test_anova_estimator_recovers_the_correlation(rho):
    estimate, n = intra_unit_correlation(
        _clustered(rho, 2000, 20, seed=1), "rating", "user_id"
    )
    assert n == 40_000
    assert estimate == pytest.approx(rho, abs=0.03)


def test_categorical_columns_use_their_indicators():
    # every user sticks to one genre: perfectly clustered; a random mix: not at all
    rng = np.random.default_rng(2)
    genres = np.array(["Drama", "Comedy", "Horror"])
    users = np.repeat(np.arange(300), 10)
    loyal = pd.DataFrame({"user_id": users, "genre": genres[users % 3]})
    mixed = pd.DataFrame({"user_id": users, "genre": rng.choice(genres, len(users))})
    assert intra_unit_correlation(loyal, "genre", "user_id")[0] == 1.0
    assert intra_unit_correlation(mixed, "genre", "user_id")[0] == pytest.approx(
        0.0, abs=0.02
    )


def test_one_value_per_user_cannot_be_estimated():
    frame = pd.DataFrame({"user_id": [1, 2, 3], "rating": [1.0, 2.0, 3.0]})
    rho, n = intra_unit_correlation(frame, "rating", "user_id")
    assert math.isnan(rho)
    assert n == 3
    assert pooled_correlation([frame], ["rating"], "user_id") == {}


def test_pooled_correlation_weights_frames_by_values():
    small = _clustered(0.0, 50, 4, seed=3)
    large = _clustered(0.5, 400, 20, seed=4)
    pooled = pooled_correlation([small, large], ["rating"], "user_id")["rating"]
    a = intra_unit_correlation(small, "rating", "user_id")[0]
    b = intra_unit_correlation(large, "rating", "user_id")[0]
    assert pooled == pytest.approx((a * 200 + b * 8000) / 8200, abs=1e-6)


@pytest.mark.parametrize(
    ("n", "units", "rho", "expected"),
    [
        (1000, 20, 0.0, 1000),  # independent ratings count as themselves
        (1000, 20, 1.0, 20),  # all alike: one per user
        (1000, 20, 0.2, 1000 / (1 + 49 * 0.2)),
        (30, 30, 0.5, 30),  # one rating per user: no clustering
        (0, 0, 0.2, 0),
    ],
)
def test_effective_size_is_the_design_effect(n, units, rho, expected):
    assert effective_size(n, units, rho) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("n", "sizes", "rho", "expected"),
    [
        # 20 users, 1,000 ratings, one gave 620: m = sum m^2 / sum m
        (1000, [620] + [20] * 19, math.nan, 1000**2 / (620**2 + 19 * 400)),
        (1000, [620] + [20] * 19, 1.0, 1000**2 / (620**2 + 19 * 400)),
        (1000, [620] + [20] * 19, 0.0, 1000),
        (1000, [620] + [20] * 19, 0.1, 1000 / (1 + (1000 * 392_000 / 1e6 - 1) * 0.1)),
        # equal sizes: the plain design effect
        (1000, [50] * 20, math.nan, 20),
        (1000, [50] * 20, 0.2, 1000 / (1 + 49 * 0.2)),
        # a column of half the rows (e.g. residuals) scales the sizes with it
        (500, [620] + [20] * 19, math.nan, 1000**2 / (620**2 + 19 * 400)),
        # a user-level column (one value per user): the sizes do not apply
        (20, [620] + [20] * 19, math.nan, 20),
    ],
)
def test_unequal_users_count_by_kish(n, sizes, rho, expected):
    m = np.asarray(sizes, dtype="float64")
    sums = (float(len(m)), float(m.sum()), float((m**2).sum()))
    assert effective_size(n, len(m), rho, unit_sums=sums) == pytest.approx(expected)
