"""The evaluation protocol: a model's rating and top-k metrics on held-out ratings.

Training evaluates every candidate with it, promotion the registered versions,
and monitoring the deployed model on a window of feedback: the same metrics,
computed the same way, wherever a model is compared with another.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from reelops._pydantic import as_config

if TYPE_CHECKING:
    from recsys import BaseRecommender

__all__ = ["EvaluationConfig", "evaluate_model", "window_metrics"]


class EvaluationConfig(BaseModel):
    """The evaluation protocol: cut-off ``k`` of the ranking metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = 10


def evaluate_model(
    model: BaseRecommender,
    fit_report: dict[str, Any],
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
    evaluation: EvaluationConfig | dict[str, Any],
) -> dict[str, Any]:
    """RMSE/MAE on the test ratings and top-k metrics by the ranking protocol."""
    from recsys import evaluate_ranking, mae_error, rmse_error

    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    X = test_ratings[["user_id", "movie_id", "timestamp"]]
    start = time.perf_counter()
    predicted = model.predict(X)
    predict_seconds = time.perf_counter() - start
    y = test_ratings["rating"].to_numpy()
    ranking = evaluate_ranking(model, train_ratings, test_ratings, k=cfg.k)
    k = cfg.k
    return {
        "estimator": fit_report["estimator"],
        "rmse": round(float(rmse_error(y, predicted)), 6),
        "mae": round(float(mae_error(y, predicted)), 6),
        f"precision@{k}": round(float(ranking[f"precision_at_{k}"]), 6),
        f"recall@{k}": round(float(ranking[f"recall_at_{k}"]), 6),
        f"ndcg@{k}": round(float(ranking[f"ndcg_at_{k}"]), 6),
        f"map@{k}": round(float(ranking[f"map_at_{k}"]), 6),
        f"coverage@{k}": round(float(ranking[f"coverage_at_{k}"]), 6),
        "fit_seconds": fit_report["fit_seconds"],
        "predict_seconds": round(predict_seconds, 4),
        "n_test": len(test_ratings),
    }


def _catalog(model: BaseRecommender) -> pd.DataFrame:
    """The model's movies as a frame (the catalog ranking coverage is relative to)."""
    return pd.DataFrame({"user_id": 0, "movie_id": model.movie_ids_})


def window_metrics(
    model: BaseRecommender,
    train: pd.DataFrame | None,
    window: pd.DataFrame,
    evaluation: EvaluationConfig | dict[str, Any],
) -> dict[str, Any]:
    """RMSE, MAE and top-k metrics of ``model`` on a window of rated feedback.

    The training protocol's metrics (:func:`evaluate_model`); coverage is relative
    to ``train`` (default: the model's catalog).
    """
    report = {"estimator": type(model).__name__, "fit_seconds": 0.0}
    catalog = _catalog(model) if train is None else train
    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    metrics = evaluate_model(model, report, catalog, window, cfg)
    return {k: v for k, v in metrics.items() if k != "fit_seconds"}
