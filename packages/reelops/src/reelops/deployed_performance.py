"""How the deployed model performs on a window of rated feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reelops.evaluation import EvaluationConfig, window_metrics
from reelops.window_profiles import prediction_frame
from reelops_contracts import RATING_COLUMNS, RATING_SCALE

if TYPE_CHECKING:
    from recsys import BaseRecommender

__all__ = ["deployed_performance"]


def _rated_rows(window_feedback: pd.DataFrame) -> pd.DataFrame:
    """Rows a model can be scored on: ids and a rating on the scale present."""
    frame = window_feedback[list(RATING_COLUMNS)]
    ok = frame[["user_id", "movie_id", "rating"]].notna().all(axis=1) & frame[
        "rating"
    ].between(min(RATING_SCALE), max(RATING_SCALE))
    rated = frame[ok].copy()
    rated[["user_id", "movie_id"]] = rated[["user_id", "movie_id"]].astype("int64")
    rated["timestamp"] = pd.to_numeric(rated["timestamp"], errors="coerce")
    return rated.reset_index(drop=True)


#: How many other serving models a note names.
_LISTED = 3


def deployed_performance(
    *,
    deployed_model: dict[str, Any],
    window_feedback: pd.DataFrame,
    evaluation: EvaluationConfig | dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The deployed model's performance on the window's rated feedback.

    The deployed model is the one the environment serves
    (:class:`~reelops.datasets.deployed_model.DeployedModelDataset`: the
    environment's alias, or locally the newest bento). Metrics are the training
    protocol's (RMSE, NDCG@k, ...). When the window's feedback was answered by
    other models than this one (its ``model_version`` column), the ``note`` says so.

    Returns:
        ``{"model": {...}, "n_feedback", "metrics" (or None), "known_users",
        "reason"}`` (``known_users``: the window's users the model was trained on)
        and its predictions on the window's rated pairs
        (:func:`~reelops.window_profiles.prediction_frame`: ``user_id``,
        ``movie_id``, ``prediction``, ``cold_start``; empty without a model).
    """
    model: BaseRecommender | None = deployed_model["model"]
    info = dict(deployed_model["info"])
    served = sorted(
        {str(v) for v in window_feedback.get("model_version", []) if pd.notna(v)}
    )
    # The service answers with its model's tag: "<name>:v<version>-<run id[:8]>".
    mine = f":v{info.get('version')}-{str(info.get('run_id') or '')[:8]}"
    others = [tag for tag in served if not tag.endswith(mine)]
    if model is not None and others:
        listed = ", ".join(others[:_LISTED]) + (" ..." if others[_LISTED:] else "")
        served_by = f"part of the window was served by {listed}"
        info["note"] = "; ".join(filter(None, [info.get("note"), served_by]))
    rated = _rated_rows(window_feedback)
    performance: dict[str, Any] = {
        "model": info,
        "n_feedback": len(rated),
        "metrics": None,
        "known_users": [],
        "reason": "",
    }
    if model is None:
        performance["reason"] = info["note"] or "no deployed model"
    elif rated.empty:
        performance["reason"] = "no rated feedback in the window"
    else:
        performance["metrics"] = window_metrics(model, None, rated, evaluation)
    if model is not None:
        users = np.unique(window_feedback["user_id"].dropna().to_numpy("int64"))
        known = np.isin(users, model.user_ids_)
        performance["known_users"] = sorted(int(u) for u in users[known])
    return performance, prediction_frame(model, rated)
