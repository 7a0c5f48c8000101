"""The monitoring report's parts: numbers, explanations, warnings, distributions.

Profiles are real: ml-latest-small's window features (2015-2017 as the
reference, 2018Q3 as the window). The whole report, rendered by a real
monitoring run and screenshot in Chromium, is tested in test_monitoring_run.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelops.drift_distributions import column_shares, shares_figure, split_points
from reelops.drift_explanation import explain_drift, window_warnings
from reelops.html_tables import flatten, format_value, html_table
from reelops_monitoring import MonitoringConfig, profile_view, window_features
from reelops_monitoring.config import ColumnDriftConfig

CONFIG = MonitoringConfig()


def _seconds(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").timestamp())


@pytest.fixture(scope="module")
def features(real_movielens: Path) -> dict[str, pd.DataFrame]:
    """Window features of 2015-2017 (reference) and of 2018Q3 (window)."""
    ratings = pd.read_csv(real_movielens / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "movie_id"}
    )
    movies = pd.read_csv(real_movielens / "movies.csv").rename(
        columns={"movieId": "movie_id"}
    )
    ts = ratings["timestamp"]
    history = ratings[(ts >= _seconds("2015-01-01")) & (ts < _seconds("2018-01-01"))]
    window = ratings[(ts >= _seconds("2018-07-01")) & (ts < _seconds("2018-10-01"))]
    known = frozenset(history["user_id"])
    return {
        "reference": window_features(history, movies, frozenset()),
        "window": window_features(window, movies, known),
    }


@pytest.fixture(scope="module")
def views(features: dict[str, pd.DataFrame]) -> dict:
    return {name: profile_view(frame) for name, frame in features.items()}


# ------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("count", 12340.0, "12,340"),  # pandas made it a float: still a count
        ("n_target", 27.000002, "27"),  # a HyperLogLog estimate of users
        ("null_count", np.int64(200), "200"),
        ("mean", 4.0, "4"),
        ("mean", 3.50512, "3.505"),
        ("max", 12345.67, "12,345.7"),  # no exponent
        ("score", float("inf"), "inf"),
        ("median", float("nan"), "-"),
        ("passed", True, "yes"),
        ("detail", None, "-"),
    ],
)
def test_numbers_read_at_a_glance(key: str, value: object, text: str) -> None:
    assert format_value(key, value) == text


def test_a_table_prints_counts_as_integers_and_flattens_nested_fields() -> None:
    # GIVEN a serving summary as decision.json holds it (a float count included)
    serving = {"requests": 12345.0, "latency_ms": {"p95": 6.5}, "status": {"500": 3}}
    # WHEN it is rendered as a key/value table
    table = html_table({k: {"value": v} for k, v in flatten(serving).items()})
    # THEN nested keys are dotted and no count has a decimal point or exponent
    assert "<th>latency_ms.p95</th><td>6.5</td>" in table
    assert "<th>requests</th><td>12,345</td>" in table
    assert "<th>status.500</th><td>3</td>" in table
    assert "e+0" not in table


# --------------------------------------------------------------- explanations


def _drift(**overrides: object) -> dict:
    column = {
        "algorithm": "ks",
        "effect": 0.301127,
        "score": 1.418944,
        "category": "DRIFT",
        "n_target": 27.000002,
        "n_reference": 125.000038,
    }
    return {**column, **overrides}


def test_a_drift_verdict_says_how_its_score_was_reached() -> None:
    # GIVEN new users' ratings' drift as decide_retrain wrote it, 1,728 ratings
    # from 27 new users
    sentence = explain_drift(
        _drift(), CONFIG.drift.columns["new_user_rating"], n_values=(1728, 21517)
    )
    # THEN the effect, the effective sizes (and why capped), the score and the
    # thresholds it was compared with are named; no p-value
    assert sentence.startswith("KS statistic D = 0.301 (the largest gap")
    assert "n_target = 27 and n_reference = 125 effective samples" in sentence
    assert (
        "(capped at the effective number of the users 'new_user_ratings' counts, "
        "(sum m)^2 / sum m^2 of their ratings m: window 1,728 values and "
        "reference 21,517" in sentence
    )
    spec = CONFIG.drift.columns["new_user_rating"]
    assert sentence.endswith(
        f"= 1.42, at or above the DRIFT threshold {spec.drift:g}"
        f" (POSSIBLE_DRIFT from {spec.possible_drift:g}): DRIFT."
    )
    assert "p-value" not in sentence and "pvalue" not in sentence


def test_a_weighted_mean_says_its_score_is_in_standard_errors() -> None:
    # GIVEN known users' precision-weighted residuals 0.31 stars apart, 3.4
    # standard errors, from 14 and 40 users
    spec = ColumnDriftConfig(
        algorithm="weighted_mean",
        weights="known_user_residual_weight",
        possible_drift=2.0,
        drift=3.0,
    )
    column = _drift(algorithm="weighted_mean", effect=0.312, score=3.4)
    column.update(n_target=14.0, n_reference=40.0)
    sentence = explain_drift(column, spec)
    # THEN the effect is in stars and the score a z, not scaled by sizes
    assert sentence.startswith(
        "The difference of the weighted means = 0.312 (in stars; each user's mean "
        "weighs 1 / (tau^2 + sigma^2 / m) over their m values), from n_target = 14 "
        "and n_reference = 40 users."
    )
    assert sentence.endswith(
        "Score = effect / sqrt(1 / W_target + 1 / W_reference), W the sums of the "
        "weights (a z) = 3.40, at or above the DRIFT threshold 3 "
        "(POSSIBLE_DRIFT from 2): DRIFT."
    )


def test_a_vanished_column_says_what_vanished_not_a_score() -> None:
    # GIVEN half stars gone from a window whose reference held 41.2 % of them,
    # with a score under the threshold
    column = _drift(algorithm="mean", effect=-0.85, score=0.95, vanished=True)
    column["mean_reference"] = 0.412
    sentence = explain_drift(column, CONFIG.drift.columns["half_star"])
    # THEN the sentence names the vanishing, not the score
    assert sentence.startswith(
        "Vanished: none of the window's values is 1, against 41.2% of the reference's"
    )
    assert "DRIFT whatever the score" in sentence and "0.95" not in sentence


def test_each_threshold_band_and_algorithm_has_its_own_words() -> None:
    genre = CONFIG.drift.columns["genre"]
    possible = explain_drift(
        _drift(algorithm="chi_square", effect=0.27, score=6.5, category="P"), genre
    )
    below = explain_drift(_drift(score=0.5, category="NO_DRIFT"), None)
    infinite = explain_drift(
        _drift(algorithm="chi_square", effect=None, score=None), genre
    )
    untestable = explain_drift(
        _drift(effect=None, score=None, category="NO_DRIFT"), None
    )
    assert possible.startswith("Cohen's w = 0.270 (sqrt(chi-square / n_target)")
    assert (
        f"at or above the POSSIBLE_DRIFT threshold {genre.possible_drift:g}, below "
        f"the DRIFT threshold {genre.drift:g}" in possible
    )
    # genre's effective sizes rest on the intra-user correlation, not the users cap
    assert "n / (1 + (m - 1) rho)" in possible
    traffic_only = CONFIG.drift.columns["new_user"].model_copy(
        update={"reference": ["traffic"]}
    )
    unjudged = explain_drift(
        {**_drift(effect=None, score=None, category="NO_DRIFT"), "reference": None},
        traffic_only,
    )
    assert unjudged.startswith("Not assessed: none of the references this column")
    assert "(traffic)" in unjudged
    assert "no thresholds for this column in the configuration" in below
    assert infinite.startswith("Cohen's w is infinite: the window has a category")
    assert untestable.startswith("Not testable: one of the profiles has no value ks")
    # a column measured but not judged (a reference of one heavy rater)
    few = explain_drift(
        {
            **_drift(effect=None, score=None, category="NO_DRIFT"),
            "n_target": 12.4,
            "n_reference": 1.9,
        },
        CONFIG.drift.columns["known_user_residual"],
        min_users=5,
    )
    assert few.startswith(
        "Not judged: the reference's values rest on 1.9 effective samples, fewer "
        "than the 5 users a column needs on each side"
    )
    # AND one of a window of too few users (the reference large)
    window = explain_drift(
        {**_drift(effect=None, score=None, category="NO_DRIFT"), "n_target": 3.2},
        CONFIG.drift.columns["known_user_residual"],
        min_users=5,
    )
    assert window.startswith(
        "Not judged: the window's values come from fewer than the 5 users"
    )


# ------------------------------------------------------------------- warnings


def test_a_window_too_small_for_drift_and_decay_is_flagged_with_numbers() -> None:
    # GIVEN 150 rows, 40 of them rated: fewer than both minimums (200)
    decision = {
        "window": {"n_rows": 150},
        "scores": {
            "drift": {"n_rows": 150, "assessed": False, "columns": {}},
            "decay": {"n_feedback": 40, "assessed": False, "metrics": {}},
        },
        "performance": {"n_feedback": 40},
    }
    assert window_warnings(decision, CONFIG) == [
        "Drift not assessed: the window has 150 rows, fewer than the 200 drift "
        "needs (monitoring.drift.min_rows).",
        "Decay not assessed: 40 rated rows, fewer than the 200 decay needs "
        "(monitoring.decay.min_feedback_rows).",
    ]


def test_few_distinct_users_and_missing_metrics_are_flagged() -> None:
    # GIVEN an assessed window of 27 users, and a model without holdout metrics
    decision = {
        "scores": {
            "drift": {"n_rows": 1728, "assessed": True, "columns": {"r": _drift()}},
            "decay": None,
        },
        "performance": {"n_feedback": 1728, "window": {"rmse": 0.9}, "training": None},
    }
    assert window_warnings(decision, CONFIG) == [
        "Small window: its drift tests rest on 27 effective samples (distinct "
        "users), fewer than 30; read the scores as indicative, not as evidence.",
        "Decay not assessed: no holdout metrics of the deployed model.",
    ]
    # AND an empty decision (no feedback at all) still says what was not assessed
    assert [w.split(":")[0] for w in window_warnings({}, CONFIG)] == [
        "Drift not assessed",
        "Decay not assessed",
    ]


# -------------------------------------------------------------- distributions


def test_split_points_come_from_the_reference_quantiles() -> None:
    # ties collapse, an edge at the minimum is dropped, a 0/1 flag gets a midpoint
    assert split_points([1.0, 2.0, 2.0, 3.0], 1.0, 5.0) == (2.0, 3.0)
    assert split_points([0.0, 0.0], 0.0, 1.0) == (0.5,)
    assert split_points([], 3.0, 3.0) == ()


def test_numeric_shares_are_the_real_shares_per_bin(
    features: dict[str, pd.DataFrame], views: dict
) -> None:
    # WHEN rating is cut at the reference's deciles
    shares = column_shares(views["reference"], views["window"], "rating", "ks")
    # THEN each side sums to 1, counts every rating, and matches the exact shares
    edges = shares.edges
    for side, n, got in (
        ("reference", shares.n_reference, shares.reference),
        ("window", shares.n_window, shares.window),
    ):
        rating = features[side]["rating"]
        exact = np.bincount(np.searchsorted(edges, rating, side="right")) / len(rating)
        assert n == len(rating)
        assert sum(got) == pytest.approx(1.0)
        assert np.allclose(got, exact, atol=0.02)
    assert shares.labels[0] == f"< {edges[0]:g}"
    assert shares.labels[-1] == f">= {edges[-1]:g}"


def test_categorical_shares_are_the_genre_mix(
    features: dict[str, pd.DataFrame], views: dict
) -> None:
    shares = column_shares(views["reference"], views["window"], "genre", "chi_square")
    exact = features["window"]["genre"].value_counts(normalize=True)
    got = dict(zip(shares.labels, shares.window, strict=True))
    assert shares.n_window == len(features["window"])
    assert got == pytest.approx(exact.to_dict(), abs=1e-9)
    # the reference's most common genre comes first
    assert shares.labels[0] == features["reference"]["genre"].mode()[0]


def test_a_distribution_plot_names_both_counts(views: dict) -> None:
    shares = column_shares(views["reference"], views["window"], "new_user", "ks")
    figure = shares_figure(shares, "new_user")
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == [
        f"reference (n={shares.n_reference:,})",
        f"window (n={shares.n_window:,})",
    ]
    assert "." not in legend[0]  # an integer count


def test_a_decay_metric_of_too_few_effective_users_is_flagged() -> None:
    # GIVEN an assessed window whose RMSE rests on 3.1 effective users of 16
    decision = {
        "scores": {
            "drift": {"n_rows": 800, "assessed": True, "columns": {}},
            "decay": {
                "n_feedback": 800,
                "n_users": 16,
                "assessed": True,
                "metrics": {
                    "rmse": {"users": 3.1, "judged": False},
                    "ndcg@10": {"users": 12, "judged": True},
                },
            },
        },
    }
    # THEN the warning says which metric, on how many users, and the setting
    assert window_warnings(decision, CONFIG)[-1] == (
        "Decay in 'rmse' not judged: its value rests on 3.1 effective users "
        "(Kish's, of their ratings) of the window's 16, fewer than the 10 decay "
        "needs (monitoring.decay.min_users)."
    )


def test_a_decay_line_names_the_value_it_was_compared_with() -> None:
    from reelops.nodes.monitoring_report import _decay_lines

    # GIVEN RMSE compared with the holdout and NDCG@10 with served traffic's
    # users of the same kinds as the window's
    decision = {
        "scores": {
            "decay": {
                "n_feedback": 800,
                "n_users": 14,
                "assessed": True,
                "metrics": {
                    "rmse": {
                        "training": 0.9,
                        "window": 0.95,
                        "degradation": 0.0556,
                        "reference": "training",
                    },
                    "ndcg@10": {
                        "training": 0.1451,
                        "window": 0.0195,
                        "degradation": 0.8656,
                        "reference": "traffic",
                        "standardized": True,
                        "users": 8,
                        "judged": False,
                    },
                },
            }
        }
    }
    # THEN each line names its reference, not "training" for both
    rmse, ndcg = _decay_lines(decision, CONFIG)
    assert rmse.startswith("rmse: training 0.9")
    assert ndcg.startswith("ndcg@10: traffic, users matched 0.1451, window 0.0195:")
    # AND a matched metric on too few users says which users it counted
    assert window_warnings(
        {**decision, "scores": {**decision["scores"], "drift": {"n_rows": 800}}},
        CONFIG,
    )[-1] == (
        "Decay in 'ndcg@10' not judged: its value rests on 8.0 users ranked like the "
        "reference's (known or new, as many movies) of the window's 14, fewer than the "
        "10 decay needs (monitoring.decay.min_users)."
    )


def test_a_drifted_column_is_drawn_against_the_reference_it_was_compared_with(
    views: dict,
) -> None:
    from reelops.nodes.monitoring_report import _compared_with, _drift_section

    # GIVEN a decision whose rating column drifted against two served windows
    drift = {"algorithm": "ks", "score": 3.0, "effect": 0.3, "category": "DRIFT"}
    decision = {
        "scores": {
            "drift": {
                "columns": {
                    "rating": {**drift, "reference": "traffic"},
                    "genre": {**drift, "algorithm": "chi_square"},
                }
            }
        },
        "reference": {"traffic_windows": ["b", "a"], "deployment_windows": []},
    }
    history = {"a": views["window"], "b": lambda: views["window"], "c": None}
    references = _compared_with(decision, views["reference"], history)
    # THEN the served windows it names are merged; no deployment reference
    assert set(references) == {"training", "traffic"}
    served = column_shares(references["traffic"], views["window"], "rating", "ks")
    assert served.n_reference == 2 * served.n_window
    # AND each plot says which reference it shows (genre names none: training)
    html = _drift_section(decision, CONFIG, references, views["window"])
    assert html.count('alt="rating distributions: window vs traffic"') == 1
    assert html.count('alt="genre distributions: window vs training"') == 1
