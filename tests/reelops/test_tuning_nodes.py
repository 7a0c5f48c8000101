"""Tuning nodes: the search metric comes from recsys' metric vocabulary."""

from __future__ import annotations

import re

import pytest

from recsys import make_estimator, make_movielens_like, rmse_error
from reelops.errors import ConfigError
from reelops.nodes import tuning

UNKNOWN = (
    "unknown metric 'auc' (expected one of: rmse, mae, precision@k, recall@k, "
    "ndcg@k, map@k, coverage@k, fit_seconds, predict_seconds)"
)


def _config(metric: str) -> dict:
    return {
        "validation_size": 0.2,
        "seed": 0,
        "k": 10,
        "search": {"bias": {"metric": metric, "grid": {"reg_item": [5.0, 50.0]}}},
    }


@pytest.fixture(scope="module")
def parts():
    ratings = make_movielens_like(2_000, n_users=60, n_movies=80, random_state=3)
    return tuning.carve_validation(ratings, _config("rmse"))


def test_an_unknown_search_metric_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match=re.escape(UNKNOWN)):
        tuning.carve_validation(None, _config("auc"))


def test_a_ranking_metric_at_another_k_keeps_its_message(parts) -> None:
    fit_part, validation = parts
    msg = "tuning metric 'ndcg@5' must use k=10"
    with pytest.raises(ValueError, match=re.escape(msg)):
        tuning.search_hyperparameters(fit_part, validation, _config("ndcg@5"))


def test_rmse_scores_are_the_old_computation(parts) -> None:
    # GIVEN the search on rmse
    fit_part, validation = parts
    results = tuning.search_hyperparameters(fit_part, validation, _config("rmse"))
    # THEN each trial's score is rmse_error of predict on (user, movie, timestamp)
    for trial in results["bias"]["trials"]:
        model = make_estimator("bias", trial["params"]).fit(
            fit_part[["user_id", "movie_id", "timestamp"]], fit_part["rating"]
        )
        X = validation[["user_id", "movie_id", "timestamp"]]
        old = rmse_error(validation["rating"].to_numpy(), model.predict(X))
        assert trial["score"] == round(float(old), 6)
    # and the best is the lowest (rmse: lower is better)
    best = min(t["score"] for t in results["bias"]["trials"])
    assert results["bias"]["best"]["score"] == best


def test_ranking_metrics_pick_the_highest(parts) -> None:
    fit_part, validation = parts
    results = tuning.search_hyperparameters(fit_part, validation, _config("ndcg@10"))
    best = max(t["score"] for t in results["bias"]["trials"])
    assert results["bias"]["best"]["score"] == best
