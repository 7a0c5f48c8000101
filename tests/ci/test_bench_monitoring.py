"""bench/monitoring.py tells whether the config's thresholds match its calibration."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pandas as pd
import pytest


@pytest.fixture
def monitoring_bench(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("monitoring")


def test_defaults_within_the_sketches_noise_match_the_calibration(
    monitoring_bench,
) -> None:
    # GIVEN defaults 0.01 from a calibration (whylogs' KLL sketches move that much)
    calibrated = {"genre": {"possible_drift": 1.66, "drift": 2.84}}
    defaults = {"genre": {"possible_drift": 1.65, "drift": 2.84}}
    # WHEN they are compared
    found = monitoring_bench.threshold_differences(calibrated, defaults)
    # THEN the difference is reported and within the tolerance
    assert found["differences"] == {"genre": {"possible_drift": pytest.approx(-0.01)}}
    assert found["largest"] == pytest.approx(0.01)
    assert found["match"] is True


def test_defaults_further_off_or_missing_do_not_match(monitoring_bench) -> None:
    calibrated = {"genre": {"possible_drift": 1.5, "drift": 2.8}}
    off = {"genre": {"possible_drift": 1.2, "drift": 2.8}}
    found = monitoring_bench.threshold_differences(calibrated, off)
    assert found["largest"] == pytest.approx(0.3)
    assert found["match"] is False
    # a column the config lacks (a new drift column not declared yet) never matches
    missing = monitoring_bench.threshold_differences(
        {**calibrated, "rating": {"drift": 1.0}}, calibrated
    )
    assert missing["differences"] == {"rating": {"drift": None}}
    assert missing["largest"] is None
    assert missing["match"] is False
    # identical thresholds: nothing differs
    same = monitoring_bench.threshold_differences(calibrated, calibrated)
    assert same == {"differences": {}, "largest": 0.0, "tolerance": 0.02, "match": True}


def test_the_evaluation_is_served_by_a_model_trained_on_every_earlier_rating(
    monitoring_bench,
) -> None:
    # GIVEN ratings either side of the split between calibration and evaluation
    split = int(monitoring_bench.SPLIT.value // 10**9)
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3],
            "movie_id": [10, 11, 10, 12],
            "rating": [4.0, 3.0, 5.0, 2.0],
            "timestamp": [split - 100, split + 100, split - 1, split],
        }
    )
    # THEN the model serving the evaluation's first windows was trained on those
    # before it (the calibration users'), none from the split on
    prior = monitoring_bench.deployed_on(ratings)
    assert prior["timestamp"].tolist() == [split - 100, split - 1]
