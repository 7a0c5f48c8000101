"""Injected drifts on real MovieLens windows, and false alarms on no-drift windows."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from recsys import BiasBaseline
from reelops.window_profiles import FittedModel
from reelops_monitoring import InvalidInputError, MonitoringConfig, window_features
from reelops_monitoring.replay import (
    degradation_table,
    detection_table,
    directed_score,
    false_alarm_rate,
    replay,
)
from reelops_monitoring.scenarios import (
    INJECTED_USER_IDS,
    add_new_users,
    bot_burst,
    default_scenarios,
    inflate_ratings,
    null_timestamps,
    shift_genre_mix,
    shift_popularity,
    suite_scenarios,
    whole_stars,
)
from reelops_monitoring.windows import shuffle_arrivals, split_rows, split_windows

SPLIT = pd.Timestamp("2008-01-01")
END = pd.Timestamp("2018-10-01")


def seconds(moment: pd.Timestamp) -> int:
    return int(moment.value // 10**9)


def bias_model(history: pd.DataFrame) -> FittedModel:
    """A BiasBaseline fitted on the ratings before a window: the deployed model."""
    model = BiasBaseline().fit(
        history[["user_id", "movie_id", "timestamp"]], history["rating"].to_numpy()
    )
    return FittedModel(model, history, {"k": 10})


@pytest.fixture(scope="module")
def window(ml_ratings) -> pd.DataFrame:
    """The real 2016Q3 window."""
    (found,) = [w for w in split_windows(ml_ratings) if w.label == "2016-07-01"]
    return found.ratings


# ---------------------------------------------------------------- injections


def test_inflation_adds_half_a_star_to_a_share_of_users_clipped(window):
    before = window.copy()
    inflated = inflate_ratings(window, share=0.5, seed=0)
    pd.testing.assert_frame_equal(window, before)  # input untouched
    delta = inflated["rating"] - window["rating"]
    changed = inflated.loc[delta > 0, "user_id"].unique()
    assert set(np.round(delta.unique(), 2)) <= {0.0, 0.5}
    assert inflated["rating"].max() == 5.0
    assert abs(len(changed) - 0.5 * window["user_id"].nunique()) <= 1


def test_genre_shift_points_a_share_of_ratings_at_the_genre(window, ml_movies):
    shifted = shift_genre_mix(window, ml_movies, genre="Horror", share=0.3, seed=0)
    moved = shifted["movie_id"] != window["movie_id"]
    horror = set(ml_movies.loc[ml_movies["genres"].str.contains("Horror"), "movie_id"])
    assert moved.mean() == pytest.approx(0.3, abs=0.02)
    assert shifted.loc[moved, "movie_id"].isin(horror).all()
    assert shifted["rating"].equals(window["rating"])


def test_popularity_shift_points_a_share_of_ratings_at_the_most_rated(
    window, ml_ratings
):
    popularity = ml_ratings["movie_id"].value_counts()
    shifted = shift_popularity(window, popularity, share=0.3, seed=0, n_movies=50)
    moved = shifted["movie_id"] != window["movie_id"]
    head = set(popularity.nlargest(50).index)
    assert moved.mean() == pytest.approx(0.3, abs=0.02)
    assert shifted.loc[moved, "movie_id"].isin(head).all()
    assert shifted["rating"].equals(window["rating"])
    assert shifted.dtypes.equals(window.dtypes)
    with pytest.raises(
        InvalidInputError, match=re.escape("n_movies must be >= 1, got 0 instead")
    ):
        shift_popularity(window, popularity, share=0.3, seed=0, n_movies=0)


def test_surge_adds_new_users_with_few_ratings(window):
    surged = add_new_users(window, share=0.5, seed=0)
    added = surged.iloc[len(window) :]
    assert len(added) == round(0.5 * len(window))
    assert not set(added["user_id"]) & set(window["user_id"])
    # AND no real user holds their ids, not even one absent from the window
    # (a window's largest id + 1 is often a user the model knows)
    assert added["user_id"].min() == INJECTED_USER_IDS + 1
    assert added.groupby("user_id").size().mean() < 8
    assert surged.dtypes.equals(window.dtypes)


def test_whole_stars_rounds_half_stars_up(window):
    rounded = whole_stars(window, share=1.0, seed=0)
    halves = window["rating"] % 1 == 0.5
    assert halves.any()
    assert (rounded["rating"] % 1 == 0).all()
    assert (rounded.loc[halves, "rating"] == window.loc[halves, "rating"] + 0.5).all()
    assert rounded.loc[~halves, "rating"].equals(window.loc[~halves, "rating"])


def test_bot_burst_is_one_new_user_rating_fast_and_alike(window):
    burst = bot_burst(window, share=0.2, seed=0)
    added = burst.iloc[len(window) :]
    assert len(added) == round(0.2 * len(window))
    assert added["user_id"].nunique() == 1
    assert added["user_id"].iloc[0] == INJECTED_USER_IDS + 1
    assert (added["rating"] == 5.0).all()
    assert added["movie_id"].is_unique
    assert added["movie_id"].isin(window["movie_id"]).all()
    assert (added["timestamp"].diff().dropna() == 3).all()
    assert burst.dtypes.equals(window.dtypes)


def test_row_windows_are_consecutive_in_time(window):
    found = split_rows(window.sample(frac=1.0, random_state=0), rows=200)
    assert len(found) == len(window) // 200
    assert all(len(w.ratings) == 200 for w in found)
    stamps = [w.ratings["timestamp"] for w in found]
    assert all(a.max() <= b.min() for a, b in itertools.pairwise(stamps))
    assert found[0].start == pd.Timestamp(int(stamps[0].min()), unit="s")
    with pytest.raises(InvalidInputError, match="rows must be >= 1, got 0 instead"):
        split_rows(window, rows=0)


def test_the_suite_by_window_size_finds_scale_changes(ml_ratings, ml_movies):
    # GIVEN windows of 1,000 ratings of a shuffled (no-drift) stream
    late = ml_ratings[
        ml_ratings.groupby("user_id")["timestamp"].transform("min") >= seconds(SPLIT)
    ]
    stream = shuffle_arrivals(late, seed=0, start=SPLIT, end=END)
    popularity = ml_ratings["movie_id"].value_counts()
    table = replay(
        stream,
        ml_movies,
        MonitoringConfig(),
        scenarios=suite_scenarios(ml_movies, popularity=popularity),
        n_reference=8,
        rows=1000,
        fit=bias_model,
    )
    detection = detection_table(table)
    # THEN every scenario is judged in every window, a surge of newcomers and a
    # broken field always found, and the no-drift windows rarely alert
    assert set(detection.index) == {
        s.name for s in suite_scenarios(ml_movies, popularity=popularity)
    }
    assert detection["windows"].min() == detection["windows"].max() >= 25
    assert detection.loc[["new_user_surge", "broken_timestamps"], "rate"].min() == 1
    assert false_alarm_rate(table)["rate"] <= 0.05
    # AND each case carries the deployed model's RMSE on its ratings: +0.5 stars
    # for everyone changes it in every window, worse where the model did not
    # already predict too low; a broken timestamp never changes it
    by_case = table.set_index(["window_index", "scenario"])["rmse"].unstack()
    assert (by_case["rating_inflation"] != by_case["none"]).all()
    assert (by_case["broken_timestamps"] == by_case["none"]).all()
    degrading = degradation_table(table, limits={"rmse": 0.01})
    assert "broken_timestamps" not in degrading.index
    worse = (by_case["rating_inflation"] >= by_case["none"] * 1.01).sum()
    assert 0 < degrading.loc["rating_inflation", "windows"] == worse
    assert worse < detection.loc["rating_inflation", "windows"]
    assert degrading.loc["all", "windows"] == degrading["windows"].drop("all").sum()
    assert degrading.loc["all", "detected"] == degrading["detected"].drop("all").sum()
    # AND ratings moved to the most-rated movies are told by popular_movie, judged
    # against the reference windows re-measured with the window's own head (the
    # one of the ratings before them): windows of 5 users or more have a score
    none = table[(table["scenario"] == "none") & table["assessed"]]
    assert none["score_popular_movie"].notna().mean() > 0.8
    shifted = table[table["scenario"] == "popularity_shift"]
    assert shifted["reasons"].str.contains("drift in 'popular_movie'").sum() >= 3
    # AND half stars rounded up to whole stars are told by the window's share of
    # half stars, new users' included, in nearly every window
    whole = table[table["scenario"] == "whole_stars"]
    assert whole["reasons"].str.contains("drift in 'half_star'").mean() >= 0.9
    assert detection.loc["whole_stars", "rate"] >= 0.9


def test_a_one_way_column_calibrates_on_its_own_direction_only():
    # a window whose mean went down: it can alarm on a decrease-only column only
    down = {
        "score": 3.0,
        "category": "DRIFT",
        "mean_target": 0.1,
        "mean_reference": 0.3,
    }
    assert directed_score(down, "decrease") == 3.0
    assert directed_score(down, "increase") == 0.0
    assert directed_score(down) == 3.0
    up = {**down, "mean_target": 0.5}
    assert (directed_score(up, "decrease"), directed_score(up, "increase")) == (0, 3)
    assert directed_score({**down, "mean_target": None}, "decrease") == 0.0
    assert directed_score({**down, "mean_target": None}) == 3.0


def test_broken_field_nulls_every_timestamp(window, ml_movies):
    broken = null_timestamps(window)
    assert broken["timestamp"].isna().all()
    features = window_features(broken, ml_movies, known_users=set())
    assert features["timestamp"].isna().all()


def test_share_out_of_range_is_an_error(window):
    with pytest.raises(
        InvalidInputError, match=re.escape("share must be in (0, 1], got 1.5 instead")
    ):
        inflate_ratings(window, share=1.5, seed=0)


# ------------------------------------------------ detection on real windows


@pytest.fixture(scope="module")
def real_replay(ml_ratings, ml_movies) -> pd.DataFrame:
    """Real quarters 2014Q1-2018Q3 (reference: the 8 quarters before each)."""
    recent = ml_ratings[ml_ratings["timestamp"] >= seconds(pd.Timestamp("2014-01-01"))]
    scenarios = default_scenarios(
        ml_movies, popularity=ml_ratings["movie_id"].value_counts()
    )
    return replay(
        recent, ml_movies, MonitoringConfig(), scenarios=scenarios, fit=bias_model
    )


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("rating_inflation", "drift in 'new_user_rating'"),
        ("genre_shift", "drift in 'genre'"),
        ("new_user_surge", "drift in 'new_user'"),
        (
            "broken_timestamps",
            "quality check failed: timestamp has no missing values (1383 of 1383 null)",
        ),
    ],
)
def test_each_drift_is_flagged_in_its_window_with_its_reason(
    real_replay, scenario, reason
):
    # GIVEN the real 2016Q3 window, calm as it is
    rows = real_replay[real_replay["window"] == "2016-07-01"].set_index("scenario")
    assert rows.loc["none", "reasons"] == ""
    # WHEN the drift is injected THEN the decision names it
    assert rows.loc[scenario, "detected"]
    assert reason in rows.loc[scenario, "reasons"]
    # and only a quality failure blocks retraining
    assert rows.loc[scenario, "retrain"] == (scenario != "broken_timestamps")


def test_the_first_judged_window_compares_residuals_with_its_reference(real_replay):
    # GIVEN the first window judged (nothing rated before its reference: no head
    # of the catalogue, so popular_movie is null and nothing is re-measured)
    first = real_replay[
        (real_replay["window_index"] == real_replay["window_index"].min())
        & (real_replay["scenario"] == "none")
    ].iloc[0]
    # THEN the residuals are still judged, against the reference windows (as one
    # deployment's), and popular_movie is not
    assert pd.notna(first["score_known_user_residual"])
    assert pd.notna(first["score_known_user_half_star_shift"])
    assert pd.isna(first["score_popular_movie"])


def test_a_prior_is_what_the_model_serving_the_first_windows_was_trained_on(
    ml_ratings, ml_movies
):
    # GIVEN the quarters 2014Q1-2016Q2 (the first 8 only build the reference), and
    # every rating before them
    stamps = ml_ratings["timestamp"]
    start, end = (
        seconds(pd.Timestamp("2014-01-01")),
        seconds(pd.Timestamp("2016-07-01")),
    )
    stream = ml_ratings[(stamps >= start) & (stamps < end)]
    prior = ml_ratings[stamps < start]
    # WHEN they are replayed with and without that prior
    alone = replay(stream, ml_movies, MonitoringConfig(), fit=bias_model)
    served = replay(stream, ml_movies, MonitoringConfig(), fit=bias_model, prior=prior)
    # THEN the same windows are judged (the prior's ratings never are)
    assert served["window"].tolist() == alone["window"].tolist() != []
    first = served["window_index"] == served["window_index"].min()
    # AND the first one is judged by a model trained on the prior too: it has a
    # head of the catalogue to measure popular_movie against, where a stream
    # alone has none (no rating before its first window)
    assert pd.notna(served.loc[first, "score_popular_movie"]).all()
    assert pd.isna(alone.loc[first, "score_popular_movie"]).all()
    # AND the deployed model, fitted on more, predicts the same ratings better
    assert (served.loc[first, "rmse"] < alone.loc[first, "rmse"]).all()
    # AND a prior overlapping the stream is refused, saying where
    first_rating = stream["timestamp"].min()
    message = (
        "prior must end before the stream starts: its latest rating is at "
        f"{first_rating}, the stream's first at {first_rating}"
    )
    overlapping = pd.concat([prior, stream[stream["timestamp"] == first_rating]])
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        replay(stream, ml_movies, MonitoringConfig(), prior=overlapping)


def test_detection_rates_on_real_quarters(real_replay):
    table = detection_table(real_replay)
    assert table["windows"].min() >= 8
    for scenario in ("genre_shift", "new_user_surge", "broken_timestamps"):
        assert table.loc[scenario, "rate"] == 1.0
    # +0.5 star for every user: the weakest signal in windows of ~20 users
    assert table.loc["rating_inflation", "rate"] >= 0.4


# ------------------------------------------------------------- false alarms


def test_false_alarm_rate_on_shuffled_windows(ml_ratings, ml_movies):
    # GIVEN the users who arrived from 2008 on (not those the thresholds were
    # calibrated on), each arriving at a random time: windows without drift
    first = ml_ratings.groupby("user_id")["timestamp"].transform("min")
    late = ml_ratings[first >= seconds(SPLIT)]
    tables = []
    for seed in (0, 1):
        stream = shuffle_arrivals(late, seed=seed, start=SPLIT, end=END)
        stream = stream[stream["timestamp"] < seconds(END)]
        # WHEN every window is assessed against the 8 before it
        tables.append(replay(stream, ml_movies, MonitoringConfig(), fit=bias_model))
    rate = false_alarm_rate(pd.concat(tables, ignore_index=True))
    # THEN at most 5 % of at least 40 windows raise an alert
    assert rate["windows"] >= 40
    assert rate["rate"] <= 0.05


def test_degradation_pairs_each_case_with_its_own_window():
    # GIVEN two windows of one day (small windows share dates), each uninjected
    # and inflated: the first's RMSE 1 -> 1.2 (worse), the second's 1 -> 0.9
    table = pd.DataFrame(
        {
            "stream": "s",
            "window": "2018-01-01",
            "window_index": [0, 0, 1, 1],
            "scenario": ["none", "rating_inflation"] * 2,
            "assessed": True,
            "detected": [None, False, None, True],
            "rmse": [1.0, 1.2, 1.0, 0.9],
        }
    )
    # THEN only the first counts as degrading, and it went undetected
    found = degradation_table(table, limits={"rmse": 0.01})
    assert found.to_dict("index") == {
        "rating_inflation": {"windows": 1, "detected": 0, "rate": 0.0},
        "all": {"windows": 1, "detected": 0, "rate": 0.0},
    }


def test_a_ranking_metric_degrades_downward_and_either_limit_counts():
    # GIVEN three windows, uninjected and inflated: NDCG@10 0.20 -> 0.19 (5 %
    # worse), 0.20 -> 0.197 (1.5 %), 0.20 -> 0.30 (better) with RMSE 1 -> 1.02
    table = pd.DataFrame(
        {
            "stream": "s",
            "window": "2018-01-01",
            "window_index": [0, 0, 1, 1, 2, 2],
            "scenario": ["none", "rating_inflation"] * 3,
            "assessed": True,
            "detected": [None, True, None, False, None, False],
            "rmse": [1.0, 1.0, 1.0, 1.0, 1.0, 1.02],
            "ndcg@10": [0.2, 0.19, 0.2, 0.197, 0.2, 0.3],
        }
    )
    ranking = degradation_table(table, limits={"ndcg@10": 0.02})
    assert ranking.loc["all", ["windows", "detected"]].tolist() == [1, 1]
    either = degradation_table(table, limits={"rmse": 0.01, "ndcg@10": 0.02})
    assert either.loc["all", ["windows", "detected"]].tolist() == [2, 1]
