"""Drift scores and categories between two profiles."""

from __future__ import annotations

import math
import re

import pytest

from reelops_monitoring import (
    DriftCategory,
    MissingColumnError,
    detect_drift,
    profile_view,
    window_features,
)
from reelops_monitoring.adapter import DriftStatistic
from reelops_monitoring.config import ColumnDriftConfig, DriftConfig
from reelops_monitoring.drift import categorize, effect_size, scaled_score


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.0, DriftCategory.NO_DRIFT),
        (0.099, DriftCategory.NO_DRIFT),
        (0.1, DriftCategory.POSSIBLE_DRIFT),
        (0.2, DriftCategory.DRIFT),
        (math.inf, DriftCategory.DRIFT),
        (None, DriftCategory.NO_DRIFT),
        (math.nan, DriftCategory.NO_DRIFT),
    ],
)
def test_categorize_bounds(score, expected):
    assert categorize(score, possible_drift=0.1, drift=0.2) is expected


def test_chi_square_effect_is_cohens_w():
    stat = DriftStatistic(
        "chi_square", statistic=25.0, pvalue=0.0, n_target=100, n_reference=900
    )
    assert effect_size(stat) == pytest.approx(0.5)
    ks = DriftStatistic("ks", statistic=0.3, pvalue=0.01, n_target=100, n_reference=900)
    assert effect_size(ks) == 0.3


def test_score_scales_effect_by_effective_sizes():
    assert scaled_score(0.3, 20, 180) == pytest.approx(0.3 * (20 * 180 / 200) ** 0.5)
    assert scaled_score(math.inf, 20, 180) == math.inf
    assert math.isnan(scaled_score(0.3, 0, 180))


@pytest.fixture(scope="module")
def halves(ml_ratings, ml_movies):
    # two random halves of the same ratings, each featurized as a window
    window = ml_ratings.sample(6000, random_state=1)
    known = set(ml_ratings["user_id"].head(100))
    return tuple(
        profile_view(window_features(half, ml_movies, known))
        for half in (window.iloc[:3000], window.iloc[3000:])
    )


def test_random_halves_do_not_drift(halves):
    reference, target = halves
    report = detect_drift(reference, target, DriftConfig())
    assert report.assessed
    assert report.drifted == ()
    assert {c.column for c in report.columns} == {
        "rating",
        "genre",
        "user_ratings",
        "new_user",
    }


def test_effective_size_is_capped_by_users(halves):
    reference, target = halves
    report = detect_drift(reference, target, DriftConfig())
    by_column = {c.column: c for c in report.columns}
    # 3,000 ratings, but only the window's users count
    assert by_column["rating"].n_target < 700
    assert by_column["rating"].n_target == pytest.approx(
        by_column["new_user"].n_target, rel=0.02
    )
    rows = detect_drift(reference, target, DriftConfig(unit_column=None)).columns[0]
    assert rows.n_target == 3000


def test_small_window_is_not_assessed(halves):
    reference, target = halves
    report = detect_drift(reference, target, DriftConfig(min_rows=10_000))
    assert not report.assessed
    assert report.columns == ()


def test_reason_is_one_line(halves):
    reference, target = halves
    config = DriftConfig(
        columns={
            "rating": ColumnDriftConfig(algorithm="ks", possible_drift=1e-9, drift=1e-9)
        }
    )
    (column,) = detect_drift(reference, target, config).drifted
    assert re.fullmatch(
        r"drift in 'rating': ks score \d+\.\d\d >= 1e-09 \(effect 0\.\d{3}\)",
        column.reason(),
    )


def test_unknown_column_is_named(halves):
    reference, target = halves
    config = DriftConfig(
        columns={
            "nope": ColumnDriftConfig(algorithm="ks", possible_drift=0.1, drift=0.2)
        }
    )
    with pytest.raises(
        MissingColumnError, match=re.escape("profile has no column 'nope'")
    ):
        detect_drift(reference, target, config)
