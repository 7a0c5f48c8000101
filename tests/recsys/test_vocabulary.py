from __future__ import annotations

import math
import re

import pytest

from recsys import (
    METRICS,
    InvalidParameterError,
    UnknownMetricError,
    direction_of,
    is_better,
    mae_error,
    metric_names,
    ndcg_at_k_score,
    relative_improvement,
    resolve,
    rmse_error,
)

UNKNOWN = (
    "unknown metric '{}' (expected one of: rmse, mae, precision@k, recall@k, "
    "ndcg@k, map@k, coverage@k, fit_seconds, predict_seconds)"
)


def test_every_metric_is_defined_once():
    stems = [m.stem for m in METRICS]
    assert len(stems) == len(set(stems))


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("rmse", "lower"),
        ("mae", "lower"),
        ("precision@10", "higher"),
        ("recall@10", "higher"),
        ("ndcg@10", "higher"),
        ("map@10", "higher"),
        ("coverage@10", "higher"),
        ("ndcg@5", "higher"),
        ("fit_seconds", "lower"),
        ("predict_seconds", "lower"),
    ],
)
def test_directions(name, direction):
    assert direction_of(name) == direction


def test_directions_follow_the_sklearn_suffixes():
    # *_error is lower-is-better, *_score higher-is-better
    for metric in METRICS:
        if metric.function is not None:
            suffix = metric.function.__name__.rsplit("_", 1)[-1]
            assert metric.direction == {"error": "lower", "score": "higher"}[suffix]


def test_resolve_gives_the_function_and_k():
    assert resolve("ndcg@20") == (METRICS[4], 20)
    assert resolve("ndcg@20")[0].function is ndcg_at_k_score
    assert resolve("rmse")[0].function is rmse_error
    assert resolve("mae") == (METRICS[1], None)
    assert resolve("mae")[0].function is mae_error


def test_names_in_report_order():
    assert metric_names() == (
        "rmse",
        "mae",
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
        "coverage@10",
    )
    assert metric_names(5, kinds=("ranking",))[0] == "precision@5"
    assert metric_names(kinds=("timing",)) == ("fit_seconds", "predict_seconds")


@pytest.mark.parametrize(
    "name", ["auc", "ndcg", "ndcg@0", "ndcg@k", "rmse@10", "NDCG@10", "ndcg@10 ", ""]
)
def test_unknown_names_are_one_line_errors(name):
    with pytest.raises(UnknownMetricError, match=re.escape(UNKNOWN.format(name))):
        direction_of(name)
    # an UnknownMetricError is a ValueError (pydantic validators report it)
    assert issubclass(UnknownMetricError, InvalidParameterError)
    assert issubclass(UnknownMetricError, ValueError)


def test_is_better_is_strict_and_follows_the_direction():
    assert is_better("rmse", 0.8, 0.9)
    assert not is_better("rmse", 0.9, 0.8)
    assert is_better("ndcg@10", 0.3, 0.2)
    assert not is_better("ndcg@10", 0.2, 0.2)
    with pytest.raises(UnknownMetricError):
        is_better("auc", 1.0, 0.0)


def test_relative_improvement():
    assert relative_improvement("ndcg@10", 0.3, 0.2) == pytest.approx(0.5)
    assert relative_improvement("rmse", 0.9, 1.0) == pytest.approx(0.1)
    assert relative_improvement("rmse", 1.1, 1.0) == pytest.approx(-0.1)
    # a reference of 0: 0 when equal, else infinite, positive when better
    assert relative_improvement("ndcg@10", 0.0, 0.0) == 0.0
    assert relative_improvement("ndcg@10", 0.1, 0.0) == math.inf
    assert relative_improvement("rmse", 0.1, 0.0) == -math.inf
