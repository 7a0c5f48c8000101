"""The whylogs adapter: profiles, merges, bytes, summaries, laziness."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from reelops_monitoring import (
    InvalidInputError,
    ProfileError,
    deserialize_view,
    merge_views,
    profile_frame,
    profile_view,
    row_count,
    serialize_view,
    summarize_view,
)
from reelops_monitoring.adapter import (
    check_constraints,
    column_sums,
    drift_statistic,
    frequent_items,
    replace_columns,
    value_count,
    value_histogram,
    value_quantiles,
)


def test_round_trip_keeps_counts_and_timestamp(small_frame):
    # GIVEN a profile with a dataset timestamp
    view = profile_view(small_frame, dataset_timestamp=pd.Timestamp("2024-01-01"))
    # WHEN it goes to bytes and back
    back = deserialize_view(serialize_view(view))
    # THEN the summary and the timestamp are unchanged
    pd.testing.assert_frame_equal(summarize_view(back), summarize_view(view))
    assert back.dataset_timestamp == pd.Timestamp("2024-01-01", tz="UTC")


def test_profile_frame_is_serialized_view(small_frame):
    data = profile_frame(small_frame)
    assert isinstance(data, bytes)
    assert row_count(deserialize_view(data)) == len(small_frame)


def test_string_and_datetime_columns_profile_under_numpy2(small_frame):
    # GIVEN NumPy 2 (no np.unicode_) and string + datetime columns
    assert np.__version__.startswith("2")
    # WHEN profiled
    summary = summarize_view(profile_view(small_frame))
    # THEN counts and nulls are right for every column type
    assert summary.loc["endpoint", "null_count"] == 1
    assert summary.loc["at", "null_count"] == 1
    assert summary.loc["latency_ms", "null_count"] == 1
    assert summary.loc["k", "mean"] == pytest.approx(11.25)
    assert "/recommend: 2" in summary.loc["endpoint", "top_items"]


def test_merge_equals_profiling_the_concatenation(ml_ratings):
    # GIVEN a real frame cut in three
    frame = ml_ratings.head(3000)
    parts = [frame.iloc[:1000], frame.iloc[1000:2500], frame.iloc[2500:]]
    # WHEN the parts' profiles are merged
    merged = summarize_view(merge_views(profile_view(p) for p in parts))
    whole = summarize_view(profile_view(frame))
    # THEN exact statistics agree with profiling the whole frame
    exact = ["count", "null_count", "mean", "min", "max"]
    pd.testing.assert_frame_equal(merged[exact], whole[exact], check_exact=False)
    # and sketches agree approximately
    assert np.allclose(merged["median"], whole["median"], rtol=0.05)


def test_replace_columns_takes_the_named_columns_from_the_source():
    # GIVEN two profiles of the same columns
    view = profile_view(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 1.0, 1.0]}))
    source = profile_view(pd.DataFrame({"x": [9.0, 8.0], "y": [5.0, 5.0]}))
    # WHEN y is replaced by the source's
    both = summarize_view(replace_columns(view, source, ["y"]))
    # THEN y is the source's, x is still the view's, the timestamp the view's
    assert both.loc["y", ["count", "mean"]].tolist() == [2, 5.0]
    assert both.loc["x", ["count", "mean"]].tolist() == [3, 2.0]
    assert replace_columns(view, source, []).dataset_timestamp == view.dataset_timestamp
    # AND a column the source does not have is refused in one line
    with pytest.raises(
        ProfileError,
        match=r"^replace_columns: the source profile has "
        r"no column 'z'; it has \['x', 'y'\]$",
    ):
        replace_columns(view, source, ["z"])


def test_frequent_items_counts(small_frame):
    assert frequent_items(profile_view(small_frame), "endpoint") == {
        "/recommend": 2,
        "/similar": 1,
    }


def test_histogram_shares_match_the_real_rating_shares(ml_ratings):
    # GIVEN all of ml-latest-small's ratings (100,836, a sketch in estimation mode)
    view = profile_view(ml_ratings[["rating"]])
    # WHEN they are cut between each half star
    points = [0.75 + 0.5 * i for i in range(9)]
    histogram = value_histogram(view, "rating", points)
    # THEN the sketch's shares are the exact ones within its rank error
    exact = ml_ratings["rating"].value_counts(normalize=True).sort_index()
    assert histogram.n == len(ml_ratings)
    assert sum(histogram.shares) == pytest.approx(1.0)
    assert np.allclose(histogram.shares, exact.to_numpy(), atol=0.02)


def test_quantiles_and_counts_skip_nulls(small_frame):
    view = profile_view(small_frame)
    # latency_ms holds 8.25, 12.5, 40.0 and one NaN
    assert value_quantiles(view, "latency_ms", [0.0, 1.0]) == (8.25, 40.0)
    assert value_count(view, "latency_ms") == 3
    assert value_count(view, "endpoint") == 3
    # a string column has no numeric values: no quantile, empty histogram
    assert value_quantiles(view, "endpoint", [0.5]) == ()
    assert value_histogram(view, "endpoint", [1.0]).shares == (0.0, 0.0)


def test_histogram_split_points_must_increase(small_frame):
    with pytest.raises(
        InvalidInputError,
        match=re.escape("split points must be strictly increasing, got [2.0, 2.0]"),
    ):
        value_histogram(profile_view(small_frame), "k", [2, 2])


def test_constraints_fail_on_nulls_ranges_and_absent_columns(small_frame):
    view = profile_view(small_frame)
    outcomes = check_constraints(
        view, not_null=["k", "at", "nope"], ranges={"latency_ms": (0.0, 20.0)}
    )
    assert [(o.column, o.passed) for o in outcomes] == [
        ("k", True),
        ("at", False),
        ("nope", False),
        ("latency_ms", False),
    ]


def test_merge_nothing_is_an_error():
    with pytest.raises(
        ProfileError,
        match=re.escape("merge_views needs at least one profile view, got none"),
    ):
        merge_views([])


def test_deserialize_garbage_is_an_error():
    with pytest.raises(
        ProfileError,
        match=re.escape("cannot deserialize a whylogs profile from 4 bytes"),
    ):
        deserialize_view(b"nope")


def test_profile_needs_a_dataframe():
    with pytest.raises(
        ProfileError,
        match=re.escape("profile_view needs a pandas DataFrame, got list instead"),
    ):
        profile_view([1, 2])  # type: ignore[arg-type]


def test_import_is_lazy_and_use_disables_analytics():
    # GIVEN a fresh interpreter without WHYLOGS_NO_ANALYTICS
    code = (
        "import os, sys; os.environ.pop('WHYLOGS_NO_ANALYTICS', None)\n"
        "import reelops_monitoring\n"
        "print('whylogs' in sys.modules)\n"
        "import pandas as pd\n"
        "reelops_monitoring.profile_view(pd.DataFrame({'s': ['a']}))\n"
        "print('whylogs' in sys.modules, os.environ['WHYLOGS_NO_ANALYTICS'])\n"
        "from whylogs.api import usage_stats\n"
        "print(usage_stats._TELEMETRY_DISABLED)\n"
    )
    # WHEN the package is imported, then used
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    # THEN whylogs loads only on use, with usage statistics off
    assert out == ["False", "True", "True", "True"]


def test_serving_request_batch_profiles_to_bytes():
    # GIVEN a batch of request features as the serving profiler builds it
    batch = pd.DataFrame(
        {
            "user_activity": ["new", "1-19", "200+", "20-49"],
            "k": [10, 10, 20, 5],
            "genres": ["Comedy", "", "Drama|Horror", None],
            "cold_start": [True, False, False, True],
            "latency_ms": [12.5, 40.0, 3.0, 8.25],
            "top_score": [4.1, 4.9, None, 3.2],
            "endpoint": ["/recommend"] * 3 + ["/similar"],
            "status": [200, 200, 200, 422],
        }
    )
    # WHEN profiled off the request path
    view = deserialize_view(profile_frame(batch, dataset_timestamp=pd.Timestamp.now()))
    # THEN every feature is summarized
    summary = summarize_view(view)
    assert set(summary.index) == set(batch.columns)
    assert summary.loc["top_score", "null_count"] == 1
    assert summary.loc["status", "max"] == 422


def test_mean_drift_is_cohens_d_from_the_profiles():
    # GIVEN two samples whose means differ by one pooled standard deviation
    rng = np.random.default_rng(0)
    window = pd.DataFrame({"x": rng.normal(1.0, 1.0, 400)})
    reference = pd.DataFrame({"x": rng.normal(0.0, 1.0, 1600)})
    found = drift_statistic(profile_view(window), profile_view(reference), "x", "mean")
    # THEN the statistic is Cohen's d as numpy computes it, with its sizes
    a, b = window["x"].to_numpy(), reference["x"].to_numpy()
    pooled = np.sqrt(
        (((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()) / (400 + 1600 - 2)
    )
    assert found is not None
    assert found.statistic == pytest.approx(abs(a.mean() - b.mean()) / pooled)
    assert (found.n_target, found.n_reference) == (400, 1600)
    assert found.pvalue < 1e-9
    # AND a column of one value has no variance to compare with
    one = profile_view(pd.DataFrame({"x": [1.0]}))
    assert drift_statistic(one, profile_view(reference), "x", "mean") is None


def test_column_sums_are_the_first_two_moments():
    view = profile_view(pd.DataFrame({"m": [1.0, 2.0, 10.0, None]}))
    assert column_sums(view, "m") == pytest.approx((3, 13.0, 105.0))
    empty = profile_view(pd.DataFrame({"m": [np.nan, np.nan]}))
    assert column_sums(empty, "m") == (0.0, 0.0, 0.0)
