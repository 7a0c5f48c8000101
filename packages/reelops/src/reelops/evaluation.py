"""The evaluation protocol: a model's rating and top-k metrics on held-out ratings.

Training evaluates every candidate with it, promotion the registered versions,
and monitoring the deployed model on a window of feedback: the same metrics,
computed the same way, wherever a model is compared with another.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, PositiveInt

from reelops._pydantic import as_config

if TYPE_CHECKING:
    from recsys import BaseRecommender

__all__ = ["EvaluationConfig", "evaluate_model", "ranked_sample", "window_metrics"]


class EvaluationConfig(BaseModel):
    """The evaluation protocol.

    ``k``: cut-off of the ranking metrics. ``max_users``: ranking metrics are
    computed on at most this many of the test users, a sample drawn with
    ``sample_seed`` (``None``: every user); rating metrics always use every
    test rating. Ranking scores every movie for every user, which does not
    scale with the users (at 25M ratings, 162,540 users); the sample depends on
    the test users and the seed only, so every model evaluated on the same test
    ratings is ranked on the same users.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = 10
    max_users: PositiveInt | None = None
    sample_seed: int = 0


def ranked_sample(test: pd.DataFrame, cfg: EvaluationConfig) -> pd.DataFrame:
    """The rows of ``test`` whose users the ranking metrics are computed on.

    All of them when there are at most ``cfg.max_users`` users; otherwise the
    rows of ``cfg.max_users`` users drawn without replacement (seed
    ``cfg.sample_seed``) from the sorted distinct user ids.
    """
    if cfg.max_users is None:
        return test
    users = np.unique(test["user_id"].to_numpy())
    if len(users) <= cfg.max_users:
        return test
    rng = np.random.default_rng(cfg.sample_seed)
    kept = rng.choice(users, size=cfg.max_users, replace=False)
    return test[test["user_id"].isin(kept)]


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
    ``fit_report``) and ``predict_seconds``. Ranking metrics rest on
    ``ranked_users`` test users (``evaluation.max_users`` at most, see
    :class:`EvaluationConfig`), rating metrics on all ``n_test`` ratings.
    """
    from recsys import evaluate, metric_names, resolve

    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    names = metric_names(cfg.k)
    ranking = [n for n in names if resolve(n)[0].kind == "ranking"]
    rating = [n for n in names if n not in ranking]
    scores = evaluate(
        model,
        train_ratings,
        test_ratings,
        k=cfg.k,
        metrics=(*rating, "predict_seconds"),
    )
    ranked = ranked_sample(test_ratings, cfg)
    scores.update(evaluate(model, train_ratings, ranked, k=cfg.k, metrics=ranking))
    predict_seconds = scores.pop("predict_seconds")
    return {
        "estimator": fit_report["estimator"],
        **{name: round(scores[name], 6) for name in names},
        "fit_seconds": fit_report["fit_seconds"],
        "predict_seconds": round(predict_seconds, 4),
        "n_test": len(test_ratings),
        "ranked_users": int(ranked["user_id"].nunique()),
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
        :func:`recsys.evaluate_with_errors`; ``ranking_strata``: ``{metric:
        strata}`` of the per-user ranking metrics,
        :func:`reelops_monitoring.decay.ranking_strata`, by which decay compares
        a window with a reference of users like its own).
    """
    from recsys import evaluate_by_user, evaluate_with_errors, metric_names, resolve
    from reelops_monitoring.decay import STRATA_KEY, ranking_strata
    from reelops_monitoring.effective import effective_units

    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    catalog = _catalog(model) if train is None else train
    names = metric_names(cfg.k)
    rating = [n for n in names if resolve(n)[0].kind == "rating"]
    ranking = [n for n in names if resolve(n)[0].kind == "ranking"]
    scores, errors = evaluate_with_errors(
        model, catalog, window, cfg.k, metrics=(*rating, "predict_seconds")
    )
    unseen = ranked_sample(
        window[~model.seen_in_fit(window[["user_id", "movie_id"]])], cfg
    )
    strata: dict[str, Any] = {}
    if len(unseen):
        ranked, ranked_errors, by_user = evaluate_by_user(
            model, catalog, unseen, cfg.k, metrics=ranking
        )
        scores.update(ranked)
        errors.update(ranked_errors)
        known = np.isin(by_user["user_id"].to_numpy(), model.user_ids_)
        strata = {
            name: ranking_strata(by_user[name], by_user["n_relevant"], known)
            for name in by_user.columns.drop(["user_id", "n_relevant"])
        }
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
        STRATA_KEY: strata,
    }
