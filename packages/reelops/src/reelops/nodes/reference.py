"""Reference-profile stage: what monitoring compares the deployed model with.

A training run records, for the model it registered:

* :func:`build_reference_profile`: per-window whylogs profiles of the training data,
  merged, new users' ratings and activity from its latest windows only (each
  window's ``new_user`` relative to the users seen before it, as in a monitored
  window);
* :func:`summarize_reference_users`: each user's habits in that data (the share of
  half-star ratings: ``known_user_half_star_shift``);
* :func:`summarize_reference_movies`: the head of its catalogue, the most-rated
  movies holding a quarter of its ratings (``popular_movie``);
* :func:`profile_reference_predictions`: the model's predictions on that data;
* :func:`evaluate_holdout`: the training-time metrics decay is judged against,
  measured on a time-based holdout (the last window before deployment).

Every function is pure: profiles, MLflow metrics and artifacts are written by
catalog datasets.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from reelops._pydantic import as_config
from reelops._types import BaseRecommender
from reelops.evaluation import EvaluationConfig
from reelops.holdout import evaluate_on_holdout
from reelops.tracking import mlflow_metrics
from reelops.window_profiles import (
    RecentConfig,
    prediction_view,
    reference_profiles,
    training_reference,
)
from reelops_monitoring import ProfileView, serialize_view
from reelops_monitoring.features import RATING_LEVEL_COLUMNS as CORRELATED_COLUMNS
from reelops_monitoring.features import (
    catalogue_head,
    head_share_by_tenure,
    user_habits,
)

__all__ = [
    "ReferenceConfig",
    "build_reference_profile",
    "evaluate_holdout",
    "holdout_mlflow_metrics",
    "profile_reference_predictions",
    "summarize_reference_movies",
    "summarize_reference_users",
]


class ReferenceConfig(BaseModel):
    """What a training run records for monitoring (``monitoring_reference``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    freq: str = "Q"
    recent: RecentConfig = RecentConfig()
    holdout_days: float = Field(default=90, gt=0)


def build_reference_profile(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    training_data_lineage: dict[str, Any],
    reference: ReferenceConfig,
    movie_head: pd.DataFrame,
) -> tuple[ProfileView, bytes, dict[str, Any]]:
    """The reference profile of the training data, and what it rests on.

    ``movie_head`` is :func:`summarize_reference_movies`' head of the catalogue
    (``popular_movie`` of every window is measured against it).

    Returns:
        The merged profile, ``reference.recent.columns`` from its last
        ``reference.recent.windows`` windows only
        (:func:`~reelops.window_profiles.training_reference`), the same serialized
        (the MLflow artifact) and a summary: ``data_sha256``, rows, users, windows
        (``n_windows``; ``recent``: its columns, windows and first window's
        start), period, the
        ``intra_user_correlation`` of the rating-level columns (the effective
        sample sizes of drift: :mod:`reelops_monitoring.effective`) and the
        ``head_share_by_tenure`` (``{tenure: share}``: the head's share of the
        ratings by the users' number of earlier ratings, what ``popular_movie``
        is measured against).
    """
    cfg = as_config(ReferenceConfig, reference, "parameters 'monitoring_reference'")
    head = movie_head["movie_id"].tolist()
    head_shares = head_share_by_tenure(ratings, head)
    views, correlation = reference_profiles(
        ratings,
        movies,
        freq=cfg.freq,
        correlated=CORRELATED_COLUMNS,
        head_movies=head,
        head_shares=head_shares,
    )
    merged = training_reference([view for _, view in views], cfg.recent)
    recent_starts = cfg.recent.latest([start for start, _ in views])
    stamps = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    summary = {
        "data_sha256": training_data_lineage["sha256"],
        "feedback_rows": int(training_data_lineage["feedback_rows"]),
        "n_ratings": len(ratings),
        "n_users": int(ratings["user_id"].nunique()),
        "freq": cfg.freq,
        "n_windows": len(views),
        "recent": {
            "columns": list(cfg.recent.columns),
            "windows": len(recent_starts),
            "start": recent_starts[0].date().isoformat() if recent_starts else None,
        },
        "first_rating": stamps.min().isoformat(),
        "last_rating": stamps.max().isoformat(),
        "intra_user_correlation": correlation,
        "head_share_by_tenure": {
            str(tenure): round(float(share), 6) for tenure, share in head_shares.items()
        },
    }
    return merged, serialize_view(merged), summary


def summarize_reference_users(
    ratings: pd.DataFrame, movie_head: pd.DataFrame
) -> pd.DataFrame:
    """Each training user's habits, one row per ``user_id``.

    :func:`~reelops_monitoring.features.user_habits`: ``half_star_share``, the
    share of the user's ratings that are half stars; ``popular_share``, the share
    of their latest ratings in ``movie_head`` (:func:`summarize_reference_movies`).
    """
    return user_habits(ratings, movie_head["movie_id"].tolist()).reset_index()


def summarize_reference_movies(ratings: pd.DataFrame) -> pd.DataFrame:
    """``movie_id`` and ``n_ratings`` of the head of the catalogue, most-rated first.

    :func:`~reelops_monitoring.features.catalogue_head`: the most-rated movies
    that together hold a quarter of the ratings.
    """
    return catalogue_head(ratings).reset_index()


def profile_reference_predictions(
    model: BaseRecommender | None, ratings: pd.DataFrame
) -> tuple[ProfileView, bytes]:
    """Profile of the model's predictions on its training data, and serialized.

    Without a registered model the profile is empty (and says so: 0 rows).
    """
    view = prediction_view(model, ratings)
    return view, serialize_view(view)


def evaluate_holdout(
    model: BaseRecommender | None,
    ratings: pd.DataFrame,
    reference: ReferenceConfig,
    evaluation: EvaluationConfig,
) -> dict[str, Any]:
    """The model's training-time metrics on a time-based holdout.

    The last ``holdout_days`` of ``ratings`` are held out
    (:func:`~reelops.holdout.evaluate_on_holdout`): what the model is expected to
    score on the next window, the value decay is judged against. ``model`` is
    only cloned and fitted again: the catalog hands it unfitted
    (``challenger_model@unfitted``), so the registered fit is not in memory
    beside the refit.

    Returns:
        ``{"assessed": bool, "metrics": {...}, "protocol": {...}}``, with a
        ``reason`` when nothing could be assessed.
    """
    cfg = as_config(ReferenceConfig, reference, "parameters 'monitoring_reference'")
    return evaluate_on_holdout(
        model, ratings, holdout_days=cfg.holdout_days, evaluation=evaluation
    )


def holdout_mlflow_metrics(
    holdout_metrics: dict[str, Any],
) -> dict[str, dict[str, float]]:
    """The holdout metrics as MLflow metrics (:func:`~reelops.tracking.mlflow_metrics`).

    Nothing when the holdout could not be assessed (its ``reason`` is in the JSON).
    """
    if not holdout_metrics.get("assessed"):
        return {}
    return {
        key: {"value": value, "step": 0}
        for key, value in mlflow_metrics(holdout_metrics["metrics"]).items()
    }
