"""bench/monitoring_bound.py: the oracle ceilings of issue 16's suite."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from reelops_monitoring.features import RESIDUAL_SIGMA, RESIDUAL_TAU
from tests.conftest import REPO


@pytest.fixture
def bound_bench(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("monitoring_bound")


def _simulated_users(rng: np.random.Generator, shift: float) -> pd.DataFrame:
    """Users of a random-effects model: tau 0.4 known / 0.5 new, sigma 0.8."""
    known = rng.random(6) < 0.6
    m = rng.integers(1, 60, size=6)
    tau = np.where(known, 0.4, 0.5)
    d = rng.normal(0.0, tau) + rng.normal(0.0, 0.8 / np.sqrt(m)) + shift
    return pd.DataFrame({"m": m, "d": d, "known": known})


def test_the_shift_statistic_is_standard_normal_without_a_shift(bound_bench) -> None:
    # GIVEN windows of the null model the oracle is told
    rng = np.random.default_rng(0)
    components = {
        "sigma2": 0.64,
        "known": {"mu": 0.0, "tau2": 0.16},
        "new": {"mu": 0.0, "tau2": 0.25},
    }
    null = [
        bound_bench.shift_statistic(_simulated_users(rng, 0.0), components)
        for _ in range(4000)
    ]
    shifted = [
        bound_bench.shift_statistic(_simulated_users(rng, 0.5), components)
        for _ in range(4000)
    ]
    # THEN it is N(0, 1) under the null and moves up by delta * sqrt(sum 1/v)
    assert np.mean(null) == pytest.approx(0.0, abs=0.05)
    assert np.std(null) == pytest.approx(1.0, abs=0.05)
    assert np.mean(shifted) > 1.5


def test_variance_components_recover_the_simulated_ones(bound_bench) -> None:
    rng = np.random.default_rng(1)
    rows = []
    for user in range(3000):
        known = user % 2 == 0
        offset = rng.normal(0.1 if known else -0.2, 0.3 if known else 0.6)
        m = int(rng.integers(2, 30))
        residuals = offset + rng.normal(0.0, 0.9, size=m)
        rows.append(
            {
                "m": m,
                "d": residuals.mean(),
                "known": known,
                "ss": float(((residuals - residuals.mean()) ** 2).sum()),
            }
        )
    found = bound_bench.variance_components(pd.DataFrame(rows))
    assert np.sqrt(found["sigma2"]) == pytest.approx(0.9, abs=0.02)
    assert np.sqrt(found["known"]["tau2"]) == pytest.approx(0.3, abs=0.05)
    assert np.sqrt(found["new"]["tau2"]) == pytest.approx(0.6, abs=0.05)
    assert found["known"]["mu"] == pytest.approx(0.1, abs=0.05)
    assert found["new"]["mu"] == pytest.approx(-0.2, abs=0.05)


def test_user_residuals_sum_each_users_ratings(bound_bench) -> None:
    ratings = pd.DataFrame({"user_id": [1, 1, 2], "rating": [3.5, 4.0, 2.0]})
    users = bound_bench.user_residuals(ratings, np.array([3.0, 3.0, 3.0]), {1})
    assert users.loc[1, "m"] == 2
    assert users.loc[1, "d"] == pytest.approx(0.75)
    assert users.loc[1, "ss"] == pytest.approx(0.125)
    assert users.loc[1, "halves"] == 1
    assert bool(users.loc[1, "known"]) and not bool(users.loc[2, "known"])
    assert users.loc[2, "d"] == pytest.approx(-1.0)


def test_power_counts_shifted_windows_past_the_nulls_quantile(bound_bench) -> None:
    null = np.arange(100, dtype=float)  # 0 .. 99
    shifted = np.array([10.0, 96.0, 99.5, 120.0])
    degrading = np.array([True, True, False, False])
    found = bound_bench.power_at(null, shifted, 0.05, among=degrading)
    assert found["threshold"] == pytest.approx(94.05)
    assert found["false_alarms"] == 5
    assert found["power"] == pytest.approx(0.75)
    assert found["power_degrading"] == pytest.approx(0.5)
    # lower: a statistic that falls when shifted (a half-star share)
    low = bound_bench.power_at(null, np.array([0.0, 50.0]), 0.05, lower=True)
    assert low["threshold"] == pytest.approx(4.95)
    assert low["power"] == pytest.approx(0.5)


def test_deployment_shifts_tell_the_users_mix_from_their_own_moves(
    bound_bench,
) -> None:
    # GIVEN a deployment's three windows of known users' mean residuals: users
    # 1-5 each at their own level, then users 1-3 and 6-7 with 1-3 unchanged
    # (only the mix moved), then users 1-5 each 0.4 stars higher
    levels = pd.Series([0.6, 0.3, 0.0, -0.3, -0.6], index=[1, 2, 3, 4, 5])
    mixed = pd.Series([0.6, 0.3, 0.0, 0.9, 0.9], index=[1, 2, 3, 6, 7])
    served = [(levels, levels + 0.5), (mixed, mixed + 0.5), (levels + 0.4, levels)]
    latest = pd.Series(0.0, index=range(1, 8))
    # WHEN the shifts of the windows after the first are taken
    second, third = bound_bench.deployment_shifts(served, latest)
    # THEN the mix alone moves the raw shift, not the paired one (users in both)
    assert second["raw"] == pytest.approx(0.54)
    assert second["paired"] == pytest.approx(0.0)
    assert second["both"] == 3
    assert second["inflated"] == pytest.approx(1.04)
    # AND every user's own move moves both (the third against the first two)
    assert third["paired"] == pytest.approx(0.4)
    assert third["raw"] == pytest.approx(0.4 - 0.54 / 2, abs=1e-9)
    assert third["own_latest"] == pytest.approx(third["raw"])


def test_a_window_of_too_few_known_users_has_no_shift(bound_bench) -> None:
    few = pd.Series([0.1, 0.2], index=[1, 2])
    many = pd.Series(0.0, index=range(1, 6))
    assert bound_bench.deployment_shifts([(many, many), (few, few)], many) == []


def test_weighted_shifts_weigh_each_user_by_the_precision_of_their_mean(
    bound_bench,
) -> None:
    # GIVEN tau2 0.25 and sigma2 1: a user's mean of 1 rating weighs 1 / 1.25,
    # of 36 ratings 1 / (0.25 + 1 / 36)
    components = {"sigma2": 1.0, "known": {"mu": 0.0, "tau2": 0.25}}
    earlier = pd.DataFrame({"m": [36] * 5, "d": [0.0] * 5})
    window = pd.DataFrame({"m": [1, 1, 36, 36, 36], "d": [2.0, 2.0, 0.0, 0.0, 0.3]})
    # WHEN the window after the first is weighed
    [(served, inflated)] = bound_bench.weighted_shifts(
        [(earlier, earlier), (window, window.assign(d=window["d"] + 0.5))],
        components,
    )
    # THEN the light raters' 2 stars count for less than the heavy raters' 0.3
    light, heavy = 1 / 1.25, 1 / (0.25 + 1 / 36)
    total = 2 * light + 3 * heavy
    mean = (2 * 2.0 * light + 0.3 * heavy) / total
    error = np.sqrt(1 / total + 1 / (5 * heavy))
    assert served == pytest.approx(mean / error)
    assert inflated == pytest.approx((mean + 0.5) / error)
    assert mean < (2.0 + 2.0 + 0.3) / 5


def test_the_suites_two_sample_shift_takes_known_users_on_both_sides(
    bound_bench,
) -> None:
    components = {"sigma2": 1.0, "known": {"mu": 0.0, "tau2": 0.25}}
    users = pd.DataFrame({"m": [10] * 6, "d": [0.0] * 6, "known": [True] * 6})
    # a new user's 3 stars is left out; a window of 4 known users is not judged
    window = pd.concat([users, pd.DataFrame({"m": [10], "d": [3.0], "known": [False]})])
    windows = [
        {
            "users_none": window,
            "users_inflation": window.assign(d=window["d"] + 0.5),
            "reference_users": users,
        },
        {
            "users_none": users.head(4),
            "users_inflation": users.head(4),
            "reference_users": users,
        },
    ]
    found = bound_bench._two_sample(windows, components)
    assert found["windows"] == 1
    # the kept window's known users match its reference: no shift (the new
    # user's 3 stars would make one), and +0.5 found
    strict = found["rating_inflation"][0]
    assert (strict["threshold"], strict["power"]) == (0.0, 1.0)


def test_the_residual_weights_are_the_ones_the_bench_measured() -> None:
    # the features' variance components are monitoring_bound.json's, rounded
    report = json.loads((REPO / "reports/bench/monitoring_bound.json").read_text())
    measured = report["served_quarters"]["precision_weighted"]
    assert RESIDUAL_SIGMA == round(measured["sigma"], 2)
    assert RESIDUAL_TAU == round(measured["tau_known"], 2)
