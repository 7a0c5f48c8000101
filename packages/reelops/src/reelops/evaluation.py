"""The evaluation protocol: a model's rating and top-k metrics on held-out ratings.

Training evaluates every candidate with it, promotion the registered versions,
and monitoring the deployed model on a window of feedback: the same metrics,
computed the same way, wherever a model is compared with another.
"""

from __future__ import annotations

import math
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
    """RMSE/MAE on the test ratings and top-k metrics by the ranking protocol.

    Every metric of :func:`recsys.evaluate` under its vocabulary name (``rmse``,
    ``ndcg@10``, ...), rounded to 6 decimals, and the timings ``fit_seconds`` (from
    ``fit_report``) and ``predict_seconds``.
    """
    from recsys import evaluate, metric_names

    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    scores = evaluate(
        model,
        train_ratings,
        test_ratings,
        k=cfg.k,
        metrics=(*metric_names(cfg.k), "predict_seconds"),
    )
    predict_seconds = scores.pop("predict_seconds")
    return {
        "estimator": fit_report["estimator"],
        **{name: round(value, 6) for name, value in scores.items()},
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

    The training protocol's metrics (:func:`evaluate_model`), measured the way the
    service works: rating metrics on every rated pair; ranking metrics only on the
    pairs the model had not seen in training, since ``/recommend`` never offers a
    movie the user rated in the training data (a window of ratings the model was
    trained on has no ranking metrics: they are left out, and ``n_ranked`` is 0).
    Coverage is relative to ``train`` (default: the model's catalog).

    Returns:
        ``{"estimator", <metric>: value, ..., "predict_seconds", "n_test",
        "n_ranked", "ranked_users", "n_users", "effective_users",
        "standard_errors"}`` (``n_ranked``, ``ranked_users``: the pairs and users
        the ranking metrics rest on, a mean over users; ``effective_users``:
        Kish's effective number of users, ``(sum m)^2 / sum m^2`` of their
        ratings ``m``, what the rating metrics, pooled over ratings, rest on: a
        window two binge raters dominate says little about the model;
        ``standard_errors``: ``{metric: error}`` with the users as sampling units,
        :func:`recsys.evaluate_with_errors`).
    """
    from recsys import evaluate_with_errors, metric_names, resolve
    from reelops_monitoring.effective import effective_units

    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    catalog = _catalog(model) if train is None else train
    names = metric_names(cfg.k)
    rating = [n for n in names if resolve(n)[0].kind == "rating"]
    ranking = [n for n in names if resolve(n)[0].kind == "ranking"]
    scores, errors = evaluate_with_errors(
        model, catalog, window, cfg.k, metrics=(*rating, "predict_seconds")
    )
    unseen = window[~model.seen_in_fit(window[["user_id", "movie_id"]])]
    if len(unseen):
        ranked, ranked_errors = evaluate_with_errors(
            model, catalog, unseen, cfg.k, metrics=ranking
        )
        scores.update(ranked)
        errors.update(ranked_errors)
    predict_seconds = scores.pop("predict_seconds")
    return {
        "estimator": type(model).__name__,
        **{name: round(value, 6) for name, value in scores.items()},
        "predict_seconds": round(predict_seconds, 4),
        "n_test": len(window),
        "n_ranked": len(unseen),
        "ranked_users": int(unseen["user_id"].nunique()),
        "n_users": int(window["user_id"].nunique()),
        "effective_users": round(
            effective_units(window["user_id"].value_counts().to_numpy()), 3
        ),
        "standard_errors": {
            name: round(value, 6)
            for name, value in errors.items()
            if math.isfinite(value)
        },
    }
