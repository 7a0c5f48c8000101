"""Monitoring stage: the latest window of feedback, assessed against the reference.

The window of feedback is selected, screened for suspicious raters (their rows
quarantined), validated (accepted rows are kept for the next training), profiled
and scored by the deployed model (the environment's alias, or locally the newest
bento); the serving request profiles give latency and error
rates; :func:`decide_retrain` writes the decision, which
:mod:`reelops.nodes.monitoring_report` renders.

Every function is pure: profiles, registry entries, MLflow metrics and tags are
read and written by catalog datasets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from reelops._pydantic import as_config
from reelops.deployed_performance import deployed_performance
from reelops.evaluation import EvaluationConfig
from reelops.rating_validation import validate_ratings
from reelops.raw_columns import LINE, PARSE_ERROR
from reelops.retrain_decision import retrain_decision
from reelops.serving_summary import summarize_requests
from reelops.window_profiles import (
    deployment_identity,
    model_name,
    traffic_key,
    traffic_reference,
    window_view,
)
from reelops_contracts import RATING_COLUMNS, RAW_RATING_COLUMNS
from reelops_monitoring import (
    MonitoringConfig,
    ProfileView,
    profile_view,
    serialize_view,
)
from reelops_monitoring.raters import screen_raters

__all__ = [
    "WindowConfig",
    "accept_feedback",
    "decide_retrain",
    "evaluate_deployed_model",
    "profile_window",
    "screen_window_raters",
    "select_feedback_window",
    "summarize_serving",
]

_RATING_COLUMNS = list(RATING_COLUMNS)
_RAW_COLUMNS = list(RAW_RATING_COLUMNS)


class WindowConfig(BaseModel):
    """The feedback window one monitoring run assesses (``monitoring_window``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: float = Field(default=90, gt=0)
    end: str | None = None
    time_column: Literal["received_at", "timestamp"] = "received_at"


def _end_of_window(end: str | None) -> pd.Timestamp:
    if end is None:
        return pd.Timestamp(datetime.now(UTC))
    stamp = pd.Timestamp(end)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def select_feedback_window(
    feedback: pd.DataFrame, monitoring_window: WindowConfig
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The feedback of the window ``[end - days, end)`` on ``time_column``.

    Rows are kept as stored (nulls included: the quality checks look at them).

    Returns:
        The window's rows (rating columns, ``received_at``, ``model_version``) and
        the window: ``start``, ``end`` (ISO, UTC), ``days``, ``time_column``,
        ``n_rows``, ``n_feedback_total`` (rows in the whole table) and ``label`` (a
        partition key naming the window).
    """
    cfg = as_config(WindowConfig, monitoring_window, "parameters 'monitoring_window'")
    end = _end_of_window(cfg.end)
    start = end - timedelta(days=cfg.days)
    when = pd.to_numeric(feedback[cfg.time_column], errors="coerce")
    low, high = start.timestamp(), end.timestamp()
    window = feedback[(when >= low) & (when < high)].reset_index(drop=True)
    info = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": cfg.days,
        "time_column": cfg.time_column,
        "n_rows": len(window),
        "n_feedback_total": len(feedback),
        "label": f"window-{end:%Y%m%dT%H%M%S}",
    }
    return window, info


def screen_window_raters(
    window_feedback: pd.DataFrame,
    window_info: dict[str, Any],
    monitoring: MonitoringConfig,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, pd.DataFrame]]:
    """The window without its suspicious raters, the screen, and their rows.

    A user with ``monitoring.raters.min_ratings`` ratings or more in the window,
    more than ``max_top_share`` of them one value, is flagged
    (:func:`~reelops_monitoring.raters.screen_raters`); the rest of the window is
    validated, profiled and judged, and the decision pages a human.

    Returns:
        The kept rows; the screen (``min_ratings``, ``max_top_share``,
        ``users_screened``, ``flagged``: one entry per user); and ``{window
        label: the flagged users' rows}`` (the quarantine, never trained on;
        empty when nobody is flagged).
    """
    config = as_config(MonitoringConfig, monitoring, "parameters 'monitoring'")
    screen = screen_raters(window_feedback, config.raters)
    kept, quarantined = screen.split(window_feedback)
    held = {window_info["label"]: quarantined.reset_index(drop=True)}
    return (
        kept.reset_index(drop=True),
        screen.to_dict(),
        held if len(quarantined) else {},
    )


def _raw_strings(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.map(lambda v: "" if pd.isna(v) else f"{v:.15g}").astype(str)


def accept_feedback(
    window_feedback: pd.DataFrame,
    movies: pd.DataFrame,
    validation: dict[str, Any],
    window_info: dict[str, Any],
) -> dict[str, pd.DataFrame]:
    """The window's feedback that passes the rules of ingested ratings.

    The ingestion validation (:func:`~reelops.rating_validation.validate_ratings`) is
    applied to the stored rows, timestamps in the future of the window's end
    included; a (user, movie) pair rated twice keeps its latest rating.

    Returns:
        ``{window label: accepted ratings}``: one partition of the accepted
        feedback that :func:`~reelops.nodes.feedback.union_feedback` appends to
        the training ratings.
    """
    latest_first = window_feedback.sort_values(
        "timestamp", ascending=False, kind="stable", na_position="last"
    ).reset_index(drop=True)
    raw = pd.DataFrame(
        {
            raw_name: _raw_strings(latest_first[name])
            for raw_name, name in zip(_RAW_COLUMNS, _RATING_COLUMNS, strict=True)
        }
    )
    raw[LINE] = np.arange(1, len(raw) + 1)
    raw[PARSE_ERROR] = ""
    accepted, _ = validate_ratings(raw, movies, validation, now=window_info["end"])
    accepted = accepted.sort_values(["timestamp", "user_id", "movie_id"]).reset_index(
        drop=True
    )
    return {window_info["label"]: accepted}


def evaluate_deployed_model(
    *,
    deployed_model: dict[str, Any],
    window_feedback: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> tuple[dict[str, Any], ProfileView, pd.DataFrame]:
    """The deployed model's performance on the window's rated feedback.

    The deployed model is the one the environment serves
    (:class:`~reelops.datasets.deployed_model.DeployedModelDataset`: the
    environment's alias, or locally the newest bento). Metrics are the training
    protocol's (RMSE, NDCG@k, ...). When the window's feedback was answered by
    other models than this one (its ``model_version`` column), the ``note`` says so
    (:func:`~reelops.deployed_performance.deployed_performance`).

    Returns:
        ``{"model": {...}, "n_feedback", "metrics" (or None), "known_users",
        "reason"}`` (``known_users``: the window's users the model was trained on),
        the profile of its predictions on the window and the predictions
        (:func:`~reelops.window_profiles.prediction_frame`).
    """
    performance, predictions = deployed_performance(
        deployed_model=deployed_model,
        window_feedback=window_feedback,
        evaluation=evaluation,
    )
    return performance, profile_view(predictions), predictions


def profile_window(
    *,
    window_feedback: pd.DataFrame,
    movies: pd.DataFrame,
    window_performance: dict[str, Any],
    window_predictions: pd.DataFrame,
    window_info: dict[str, Any],
    user_habits: pd.DataFrame,
    movie_head: pd.DataFrame,
    reference_summary: dict[str, Any] | None = None,
) -> tuple[ProfileView, bytes]:
    """Profile of the window's feedback features, and serialized (MLflow artifact).

    ``new_user`` is relative to the users the deployed model was trained on;
    ``known_user_residual`` is the rating minus the deployed model's prediction;
    ``known_user_half_star_shift`` compares a known user's half stars with
    ``user_habits`` (``user_id``, ``half_star_share``: the reference stage's);
    ``popular_movie`` is whether the movie is in ``movie_head`` (``movie_id``,
    ``n_ratings``: the reference stage's head of the catalogue), less the head's
    share at the rating's tenure (``head_share_by_tenure`` of
    ``reference_summary``; the user's training ratings, ``n_ratings`` in
    ``user_habits``, and those before it in the window), when both recorded it;
    ``known_user_popular_shift`` compares a known user's share of it with their
    ``popular_share`` in ``user_habits`` (null with habits recorded before it).
    """
    shares = (reference_summary or {}).get("head_share_by_tenure")
    habits = user_habits.set_index("user_id")
    view = window_view(
        window_feedback,
        movies,
        window_performance["known_users"],
        window_info["start"],
        predictions=window_predictions,
        user_habits=habits,
        head_movies=movie_head["movie_id"].tolist(),
        head_shares=(
            None
            if shares is None or "n_ratings" not in habits
            else pd.Series({int(tenure): share for tenure, share in shares.items()})
        ),
    )
    return view, serialize_view(view)


def summarize_serving(
    serving_request_profiles: Mapping[str, ProfileView],
    window_info: dict[str, Any],
) -> dict[str, Any]:
    """Latency and error rates of the window's requests.

    See :func:`~reelops.serving_summary.summarize_requests`.
    """
    return summarize_requests(serving_request_profiles, window_info)


def decide_retrain(
    *,
    reference_profile: ProfileView,
    traffic_history: Mapping[str, Any],
    traffic_metrics_history: Mapping[str, Any],
    window_profile: ProfileView,
    reference_summary: dict[str, Any],
    holdout_metrics: dict[str, Any],
    window_info: dict[str, Any],
    window_performance: dict[str, Any],
    serving_summary: dict[str, Any],
    monitoring: MonitoringConfig,
    movie_head: pd.DataFrame,
    rater_screen: dict[str, Any] | None = None,
) -> tuple[
    dict[str, Any],
    dict[str, Any],
    dict[str, dict[str, float]],
    dict[str, str],
    dict[str, ProfileView],
    dict[str, dict[str, Any]],
]:
    """The retrain decision of the window, with everything behind it.

    Drift and quality come from the profiles (each drift column against the
    earlier windows of served traffic in ``traffic_history``, merged by
    :func:`~reelops.window_profiles.traffic_reference`, or the training data's
    ``reference_profile``), decay from the deployed model's window metrics
    against its holdout metrics (:func:`~reelops.retrain_decision.
    retrain_decision`, thresholds from ``monitoring``); suspicious raters
    (``rater_screen``, :func:`screen_window_raters`) page a human. An empty
    window is not assessed at all: ``status`` is ``not_enough_feedback``.
    The columns of reference ``deployment`` (residuals, ``popular_movie``) and the
    decay of metrics against served traffic are compared only with the earlier
    windows of the same deployment: the deployed model and its reference stage's
    ``movie_head`` (:func:`~reelops.window_profiles.deployment_identity`, kept
    beside each window's metrics as ``deployment``).

    Returns:
        ``decision.json`` (twice: the copy the retrain trigger reads and the MLflow
        artifact), MLflow metrics and MLflow tags. The decision has ``retrain``,
        ``reasons`` and ``scores`` (:meth:`~reelops_monitoring.Decision.to_dict`),
        ``data_sha256`` (the deployed model's training data, run tag
        ``data.sha256``), ``status`` (``retrain``, ``ok``, ``blocked``,
        ``not_enough_feedback``), ``notes``, ``window``, ``model``,
        ``performance``, ``reference`` and ``serving``.
    """
    config = as_config(MonitoringConfig, monitoring, "parameters 'monitoring'")
    deployment = deployment_identity(
        model_name(window_performance.get("model")), movie_head["movie_id"].tolist()
    )
    decision = retrain_decision(
        reference_profile=reference_profile,
        window_profile=window_profile,
        reference_summary=reference_summary,
        holdout_metrics=holdout_metrics,
        window_info=window_info,
        window_performance=window_performance,
        serving_summary=serving_summary,
        config=config,
        rater_screen=rater_screen,
        traffic_reference=traffic_reference(
            traffic_history,
            window_info["start"],
            config.drift.traffic_windows,
            traffic_metrics_history,
            deployment=deployment,
        ),
    )
    quality = decision["scores"].get("quality", {})
    keep = window_info["n_rows"] > 0 and all(q["passed"] for q in quality.values())
    key = traffic_key(window_info["start"], window_info["end"])
    metrics = {**(window_performance.get("metrics") or {}), "deployment": deployment}
    return (
        decision,
        decision,
        _decision_metrics(decision),
        _decision_tags(decision),
        {key: window_profile} if keep else {},
        {key: metrics} if keep else {},
    )


def _decision_metrics(decision: dict[str, Any]) -> dict[str, dict[str, float]]:
    values: dict[str, Any] = {
        "retrain": float(decision["retrain"]),
        "page": float(decision.get("page", False)),
        "window_rows": decision["window"]["n_rows"],
        "feedback_rows": decision["performance"]["n_feedback"],
    }
    columns = decision["scores"].get("drift", {}).get("columns", {})
    for column, drift in columns.items():
        values[f"drift.{column}.score"] = drift["score"]
    for name, value in (decision["performance"]["window"] or {}).items():
        values[f"window.{name}"] = value
    decay = decision["scores"].get("decay") or {}
    for metric, found in decay.get("metrics", {}).items():
        values[f"decay.{metric}.degradation"] = found["degradation"]
    serving = decision["serving"]
    if serving.get("available"):
        values["serving.requests"] = serving["requests"]
        values["serving.error_rate"] = serving["error_rate"]
        for key, value in serving["latency_ms"].items():
            values[f"serving.latency_{key}_ms"] = value
    health = serving.get("health") or {}
    for key in ("rate_5xx", "rate_4xx"):
        if key in health:
            values[f"serving.{key}"] = health[key]
    return {
        key.replace("@", "_at_"): {"value": float(value), "step": 0}
        for key, value in values.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    }


def _decision_tags(decision: dict[str, Any]) -> dict[str, str]:
    model = decision["model"]
    return {
        "retrain": str(decision["retrain"]).lower(),
        "page": str(decision.get("page", False)).lower(),
        "status": decision["status"],
        "window_end": decision["window"]["end"],
        "model_alias": str(model.get("alias")),
        "model_version": str(model.get("version")),
        "data_sha256": str(decision["data_sha256"]),
        "reasons": " | ".join(decision["reasons"])[:5000],
    }
