"""A model's training-time metrics on a time-based holdout.

Monitoring judges decay against them: an unfitted copy of the model is fitted on
the ratings without their last days and evaluated on those days, what the model
is expected to score on the next window of feedback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from reelops.evaluation import EvaluationConfig, window_metrics
from reelops_contracts import RATING_COLUMNS

if TYPE_CHECKING:
    from recsys import BaseRecommender

__all__ = ["evaluate_on_holdout", "holdout_split"]

_RATING_COLUMNS = list(RATING_COLUMNS)
_SECONDS_PER_DAY = 86_400


def holdout_split(
    ratings: pd.DataFrame, days: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ratings`` before the last ``days`` of data, and those last ``days``."""
    cutoff = int(ratings["timestamp"].max()) + 1 - round(days * _SECONDS_PER_DAY)
    early = ratings["timestamp"] < cutoff
    return ratings[early], ratings[~early]


def evaluate_on_holdout(
    model: BaseRecommender | None,
    ratings: pd.DataFrame,
    *,
    holdout_days: float,
    evaluation: EvaluationConfig | dict[str, Any],
) -> dict[str, Any]:
    """The model's training-time metrics on a time-based holdout.

    An unfitted copy of ``model`` (same hyperparameters, same ``random_state``)
    is fitted on ``ratings`` without their last ``holdout_days`` and evaluated on
    them: what the model is expected to score on the next window, the value decay
    is judged against. The random test split would be optimistic: most of a
    window's users are new.

    Returns:
        ``{"assessed": bool, "metrics": {...}, "protocol": {...}}``, with a
        ``reason`` when nothing could be assessed.
    """
    protocol: dict[str, Any] = {"holdout_days": holdout_days}
    if model is None:
        reason = "no model registered as @challenger: no holdout metrics"
        return {"assessed": False, "reason": reason, "protocol": protocol}
    early, late = holdout_split(ratings[_RATING_COLUMNS], holdout_days)
    protocol.update(
        estimator=type(model).__name__,
        n_fit=len(early),
        n_holdout=len(late),
        holdout_start=pd.Timestamp(
            int(late["timestamp"].min()), unit="s", tz="UTC"
        ).isoformat()
        if len(late)
        else None,
    )
    if early.empty or late.empty:
        reason = f"fewer than {holdout_days:g} days of ratings before the last"
        return {"assessed": False, "reason": reason, "protocol": protocol}
    from sklearn.base import clone

    fitted = clone(model).fit(
        early[["user_id", "movie_id", "timestamp"]], early["rating"].to_numpy()
    )
    metrics = window_metrics(fitted, early, late, evaluation)
    return {"assessed": True, "metrics": metrics, "protocol": protocol}
