"""Monitoring stage: the reference a training run records, and the retrain decision.

Training side (``pipelines/reference_profile.yml``, ``pipelines/feedback_union.yml``):

* :func:`union_feedback`: the validated ratings plus the accepted feedback, the
  ratings training reads, with the data lineage they amount to;
* :func:`build_reference_profile`: per-window whylogs profiles of the training data,
  merged (each window's ``new_user`` relative to the users seen before it, as in a
  monitored window);
* :func:`profile_reference_predictions`: the model's predictions on that data;
* :func:`evaluate_holdout`: the training-time metrics decay is judged against,
  measured on a time-based holdout (the last window before deployment).

Monitoring side (``pipelines/monitoring.yml``): the latest window of feedback is
selected, validated (accepted rows are kept for the next training), profiled and
scored by the deployed model (``@champion``, else ``@challenger``); the serving
request profiles give latency and error rates; :func:`decide_retrain` writes the
decision, and :func:`report_monitoring` / :func:`plot_monitoring` render it.

Every function is pure: profiles, registry entries, MLflow metrics and tags are
read and written by catalog datasets.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from reelops._pydantic import as_config
from reelops._types import BaseRecommender, Figure
from reelops.evaluation import EvaluationConfig, evaluate_model
from reelops.nodes.ingest import lineage_tags, validate_ratings
from reelops.raw_columns import LINE, PARSE_ERROR
from reelops_monitoring import (
    Decision,
    MonitoringConfig,
    ProfileView,
    assess_window,
    merge_views,
    profile_view,
    row_count,
    serialize_view,
    summarize_view,
    window_features,
)
from reelops_monitoring.numbers import finite_or_none
from reelops_monitoring.windows import split_windows

__all__ = [
    "FeedbackUnionConfig",
    "ReferenceConfig",
    "WindowConfig",
    "accept_feedback",
    "build_reference_profile",
    "decide_retrain",
    "evaluate_deployed_model",
    "evaluate_holdout",
    "holdout_split",
    "plot_monitoring",
    "profile_reference_predictions",
    "profile_window",
    "reference_views",
    "report_monitoring",
    "select_feedback_window",
    "summarize_serving",
    "training_data_tags",
    "union_feedback",
    "window_metrics",
]

_RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
_RAW_COLUMNS = ["userId", "movieId", "rating", "timestamp"]
_SECONDS_PER_DAY = 86_400


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowConfig(_Config):
    """The feedback window one monitoring run assesses (``monitoring_window``)."""

    days: float = Field(default=90, gt=0)
    end: str | None = None
    time_column: Literal["received_at", "timestamp"] = "received_at"


class ReferenceConfig(_Config):
    """What a training run records for monitoring (``monitoring_reference``)."""

    freq: str = "Q"
    holdout_days: float = Field(default=90, gt=0)


class FeedbackUnionConfig(_Config):
    """Whether accepted feedback is appended to the training ratings."""

    enabled: bool = True


# ------------------------------------------------------------------ training side


def _frame_sha256(frame: pd.DataFrame) -> str:
    """A digest of a ratings frame's content (row order independent)."""
    ordered = frame[_RATING_COLUMNS].sort_values(_RATING_COLUMNS, kind="stable")
    rows = pd.util.hash_pandas_object(ordered.reset_index(drop=True), index=False)
    return hashlib.sha256(rows.to_numpy().tobytes()).hexdigest()


def union_feedback(
    ratings: pd.DataFrame,
    accepted_feedback: Mapping[str, pd.DataFrame],
    raw_checksums: dict[str, str],
    feedback_union: FeedbackUnionConfig,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The ratings training reads: validated ratings plus accepted feedback.

    Feedback partitions (one per monitoring window) may overlap; a rating sent
    twice counts once. A (user, movie) pair rated both in the ratings and in the
    feedback keeps its most recent rating.

    Args:
        ratings: Validated ratings (``user_id, movie_id, rating, timestamp``).
        accepted_feedback: Accepted feedback by partition (possibly none).
        raw_checksums: sha256 of every raw file (the data lineage of ``ratings``).
        feedback_union: ``enabled`` (false: the ratings alone).

    Returns:
        The ratings for training, and their lineage: ``sha256`` (the raw files'
        digest, combined with the feedback's when any feedback is appended),
        ``raw_sha256``, ``feedback_rows`` and ``feedback_sha256``.
    """
    cfg = as_config(FeedbackUnionConfig, feedback_union, "parameters 'feedback_union'")
    raw_sha = lineage_tags(raw_checksums)["sha256"]
    frames = [frame[_RATING_COLUMNS] for frame in accepted_feedback.values()]
    feedback = (
        pd.concat(frames, ignore_index=True).drop_duplicates()
        if cfg.enabled and frames
        else pd.DataFrame(columns=_RATING_COLUMNS)
    )
    base = ratings[_RATING_COLUMNS]
    if feedback.empty:
        lineage = {"sha256": raw_sha, "raw_sha256": raw_sha, "feedback_rows": 0}
        return base.reset_index(drop=True), {**lineage, "feedback_sha256": None}
    feedback = feedback.astype(base.dtypes.to_dict())
    combined = (
        pd.concat([base, feedback], ignore_index=True)
        .sort_values("timestamp", kind="stable")
        .drop_duplicates(["user_id", "movie_id"], keep="last")
        .sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
        .reset_index(drop=True)
    )
    feedback_sha = _frame_sha256(feedback)
    digest = hashlib.sha256(f"{raw_sha}\nfeedback={feedback_sha}\n".encode())
    return combined, {
        "sha256": digest.hexdigest(),
        "raw_sha256": raw_sha,
        "feedback_rows": len(feedback),
        "feedback_sha256": feedback_sha,
    }


def training_data_tags(training_data_lineage: dict[str, Any]) -> dict[str, str]:
    """MLflow ``data.*`` tags of a run trained on ratings plus feedback.

    Without feedback the run keeps the raw files' ``data.sha256`` (set by
    ingestion); with feedback, ``data.sha256`` becomes the combined digest, so that
    promotion tells a model retrained on feedback from the one whose drift alarm
    asked for it.
    """
    rows = int(training_data_lineage["feedback_rows"])
    if rows == 0:
        return {"feedback.rows": "0"}
    return {
        "sha256": training_data_lineage["sha256"],
        "sha256.raw": training_data_lineage["raw_sha256"],
        "feedback.rows": str(rows),
        "feedback.sha256": training_data_lineage["feedback_sha256"],
    }


def reference_views(
    ratings: pd.DataFrame, movies: pd.DataFrame, *, freq: str = "Q"
) -> list[tuple[pd.Timestamp, ProfileView]]:
    """One profile per calendar window of ``ratings``, with the window's start.

    Each window's ``new_user`` is relative to the users seen before it.
    """
    views = []
    seen: set[int] = set()
    for window in split_windows(ratings, freq=freq):
        features = window_features(window.ratings, movies, frozenset(seen))
        views.append(
            (window.start, profile_view(features, dataset_timestamp=window.start))
        )
        seen.update(window.ratings["user_id"].tolist())
    return views


def build_reference_profile(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    training_data_lineage: dict[str, Any],
    reference: ReferenceConfig,
) -> tuple[ProfileView, bytes, dict[str, Any]]:
    """The reference profile of the training data, and what it rests on.

    Returns:
        The merged profile, the same serialized (the MLflow artifact) and a
        summary: ``data_sha256``, rows, users, windows, period.
    """
    cfg = as_config(ReferenceConfig, reference, "parameters 'monitoring_reference'")
    views = reference_views(ratings, movies, freq=cfg.freq)
    merged = merge_views(view for _, view in views)
    stamps = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    summary = {
        "data_sha256": training_data_lineage["sha256"],
        "feedback_rows": int(training_data_lineage["feedback_rows"]),
        "n_ratings": len(ratings),
        "n_users": int(ratings["user_id"].nunique()),
        "freq": cfg.freq,
        "n_windows": len(views),
        "first_rating": stamps.min().isoformat(),
        "last_rating": stamps.max().isoformat(),
    }
    return merged, serialize_view(merged), summary


def _predictions_frame(
    model: BaseRecommender | None, pairs: pd.DataFrame
) -> pd.DataFrame:
    if model is None or pairs.empty:
        return pd.DataFrame(
            {
                "user_id": pd.Series(dtype="int64"),
                "movie_id": pd.Series(dtype="int64"),
                "prediction": pd.Series(dtype="float64"),
                "cold_start": pd.Series(dtype="bool"),
            }
        )
    X = pairs[["user_id", "movie_id"]].astype("int64")
    predicted, fallback = model.predict_with_fallback(X)
    return pd.DataFrame(
        {
            "user_id": X["user_id"].to_numpy(),
            "movie_id": X["movie_id"].to_numpy(),
            "prediction": np.asarray(predicted, dtype="float64"),
            "cold_start": np.asarray(fallback, dtype=bool),
        }
    )


def profile_reference_predictions(
    model: BaseRecommender | None, ratings: pd.DataFrame
) -> tuple[ProfileView, bytes]:
    """Profile of the model's predictions on its training data, and serialized.

    Without a registered model the profile is empty (and says so: 0 rows).
    """
    view = profile_view(_predictions_frame(model, ratings))
    return view, serialize_view(view)


def holdout_split(
    ratings: pd.DataFrame, days: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ratings`` before the last ``days`` of data, and those last ``days``."""
    cutoff = int(ratings["timestamp"].max()) + 1 - round(days * _SECONDS_PER_DAY)
    early = ratings["timestamp"] < cutoff
    return ratings[early], ratings[~early]


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

    The training protocol's metrics (:func:`~reelops.evaluation.
    evaluate_model`); coverage is relative to ``train`` (default: the model's
    catalog).
    """
    report = {"estimator": type(model).__name__, "fit_seconds": 0.0}
    catalog = _catalog(model) if train is None else train
    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    metrics = evaluate_model(model, report, catalog, window, cfg)
    return {k: v for k, v in metrics.items() if k != "fit_seconds"}


def evaluate_holdout(
    model: BaseRecommender | None,
    ratings: pd.DataFrame,
    reference: ReferenceConfig,
    evaluation: EvaluationConfig,
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
    cfg = as_config(ReferenceConfig, reference, "parameters 'monitoring_reference'")
    protocol: dict[str, Any] = {"holdout_days": cfg.holdout_days}
    if model is None:
        reason = "no model registered as @challenger: no holdout metrics"
        return {"assessed": False, "reason": reason, "protocol": protocol}
    early, late = holdout_split(ratings[_RATING_COLUMNS], cfg.holdout_days)
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
        reason = f"fewer than {cfg.holdout_days:g} days of ratings before the last"
        return {"assessed": False, "reason": reason, "protocol": protocol}
    from sklearn.base import clone

    fitted = clone(model).fit(
        early[["user_id", "movie_id", "timestamp"]], early["rating"].to_numpy()
    )
    metrics = window_metrics(fitted, early, late, evaluation)
    return {"assessed": True, "metrics": metrics, "protocol": protocol}


# ---------------------------------------------------------------- monitoring side


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

    The ingestion validation (:func:`~reelops.nodes.ingest.validate_ratings`) is
    applied to the stored rows, timestamps in the future of the window's end
    included; a (user, movie) pair rated twice keeps its latest rating.

    Returns:
        ``{window label: accepted ratings}``: one partition of the accepted
        feedback that :func:`union_feedback` appends to the training ratings.
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


def _rated_rows(window_feedback: pd.DataFrame) -> pd.DataFrame:
    """Rows a model can be scored on: ids and a rating in [0.5, 5] present."""
    frame = window_feedback[["user_id", "movie_id", "rating", "timestamp"]]
    ok = frame[["user_id", "movie_id", "rating"]].notna().all(axis=1) & frame[
        "rating"
    ].between(0.5, 5.0)
    rated = frame[ok].copy()
    rated[["user_id", "movie_id"]] = rated[["user_id", "movie_id"]].astype("int64")
    rated["timestamp"] = pd.to_numeric(rated["timestamp"], errors="coerce")
    return rated.reset_index(drop=True)


#: How many other serving models a note names.
_LISTED = 3


def evaluate_deployed_model(
    *,
    deployed_model: dict[str, Any],
    window_feedback: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> tuple[dict[str, Any], ProfileView]:
    """The deployed model's performance on the window's rated feedback.

    The deployed model is the one the environment serves
    (:class:`~reelops.datasets.deployed_model.DeployedModelDataset`: the
    environment's alias, or locally the newest bento). Metrics are the training
    protocol's (RMSE, NDCG@k, ...). When the window's feedback was answered by
    other models than this one (its ``model_version`` column), the ``note`` says so.

    Returns:
        ``{"model": {...}, "n_feedback", "metrics" (or None), "known_users",
        "reason"}`` (``known_users``: the window's users the model was trained on)
        and the profile of its predictions on the window.
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
    predictions = _predictions_frame(model, rated)
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
    return performance, profile_view(predictions)


def profile_window(
    window_feedback: pd.DataFrame,
    movies: pd.DataFrame,
    window_performance: dict[str, Any],
    window_info: dict[str, Any],
) -> tuple[ProfileView, bytes]:
    """Profile of the window's feedback features, and serialized (MLflow artifact).

    ``new_user`` is relative to the users the deployed model was trained on.
    """
    features = window_features(
        window_feedback[_RATING_COLUMNS], movies, window_performance["known_users"]
    )
    start = pd.Timestamp(window_info["start"]).to_pydatetime()
    view = profile_view(features, dataset_timestamp=start)
    return view, serialize_view(view)


def _partition_day(partition_id: str) -> str | None:
    """The ``yyyy-mm-dd`` folder a serving flush was written to, if any."""
    for part in partition_id.replace("\\", "/").split("/"):
        try:
            return datetime.strptime(part, "%Y-%m-%d").date().isoformat()
        except ValueError:
            continue
    return None


def _quantile(view: ProfileView, column: str, key: str) -> float | None:
    # The view's own table (no whylogs import here): distribution/q_95, ...
    table = view.to_pandas()
    if column not in table.index or key not in table.columns:
        return None
    value = table.loc[column, key]
    return None if pd.isna(value) else round(float(value), 3)


def summarize_serving(
    serving_request_profiles: Mapping[str, ProfileView],
    window_info: dict[str, Any],
) -> dict[str, Any]:
    """Latency and error rates of the window's requests, from the serving profiles.

    The service flushes one profile per batch into ``<yyyy-mm-dd>/`` folders; the
    flushes of the window's days are merged. An empty or missing folder is not an
    error: the summary says ``available: false`` and why.

    Error rates: the profiles hold answered requests (HTTP errors are counted by
    the service's Prometheus metrics), so ``error_rate`` is the share of answers
    with no recommendation (``top_score`` null), and ``cold_start_rate`` the
    share answered by the popularity fallback.
    """
    start = pd.Timestamp(window_info["start"]).date().isoformat()
    end = pd.Timestamp(window_info["end"]).date().isoformat()
    chosen = {
        pid: view
        for pid, view in sorted(serving_request_profiles.items())
        if (day := _partition_day(pid)) is not None and start <= day <= end
    }
    if not chosen:
        total = len(serving_request_profiles)
        return {
            "available": False,
            "reason": f"no serving request profile for {start}..{end} "
            f"({total} profile file(s) in the folder, none in the window)",
            "files": 0,
        }
    view = merge_views(chosen.values())
    summary = summarize_view(view)
    requests = row_count(view)

    def stat(column: str, name: str) -> float | None:
        if column not in summary.index:
            return None
        return finite_or_none(summary.loc[column, name])

    latency = {
        "mean": stat("latency_ms", "mean"),
        "p50": stat("latency_ms", "median"),
        "p95": _quantile(view, "latency_ms", "distribution/q_95"),
        "p99": _quantile(view, "latency_ms", "distribution/q_99"),
        "max": stat("latency_ms", "max"),
    }
    return {
        "available": True,
        "files": len(chosen),
        "requests": requests,
        "latency_ms": latency,
        "error_rate": stat("top_score", "null_share"),
        "cold_start_rate": stat("cold_start", "mean"),
        "endpoints": str(summary.loc["endpoint", "top_items"])
        if "endpoint" in summary.index
        else "",
    }


def _status(decision: Decision, *, block_retrain: bool) -> str:
    drift, decay = decision.scores["drift"], decision.scores["decay"]
    quality_failed = any(not q["passed"] for q in decision.scores["quality"].values())
    if decision.retrain:
        return "retrain"
    if quality_failed and block_retrain:
        return "blocked"
    if not drift["assessed"] and not (decay and decay["assessed"]):
        return "not_enough_feedback"
    return "ok"


def _not_enough(window_info: dict[str, Any], config: MonitoringConfig) -> str:
    if window_info.get("n_feedback_total") == 0:
        return (
            "no feedback yet: the feedback table is empty or does not exist "
            "(POST /feedback fills it); nothing to assess"
        )
    return (
        f"not enough feedback: {window_info['n_rows']} rating(s) from "
        f"{window_info['start'][:10]} to {window_info['end'][:10]} "
        f"(drift needs {config.drift.min_rows}, decay "
        f"{config.decay.min_feedback_rows})"
    )


def decide_retrain(
    *,
    reference_profile: ProfileView,
    window_profile: ProfileView,
    reference_summary: dict[str, Any],
    holdout_metrics: dict[str, Any],
    window_info: dict[str, Any],
    window_performance: dict[str, Any],
    serving_summary: dict[str, Any],
    monitoring: MonitoringConfig,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, float]], dict[str, str]]:
    """The retrain decision of the window, with everything behind it.

    Drift and quality come from the profiles, decay from the deployed model's
    window metrics against its holdout metrics (:func:`~reelops_monitoring.
    assess_window`, thresholds from ``monitoring``). An empty window is not
    assessed at all: ``status`` is ``not_enough_feedback``.

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
    model = window_performance["model"]
    notes = [n for n in (model.get("note"), window_performance.get("reason")) if n]
    training = (
        holdout_metrics.get("metrics") if holdout_metrics.get("assessed") else None
    )
    current = window_performance.get("metrics")
    if current is not None and training is None:
        notes.append(
            f"decay not assessed: {holdout_metrics.get('reason', 'no holdout metrics')}"
        )
    if window_info["n_rows"] == 0:
        body = {"retrain": False, "reasons": [], "scores": {}}
        status = "not_enough_feedback"
        notes.insert(0, _not_enough(window_info, config))
    else:
        decision = assess_window(
            reference_profile,
            window_profile,
            config,
            training_metrics=training if current is not None else None,
            window_metrics=current if training is not None else None,
            n_feedback=int(window_performance["n_feedback"]),
        )
        body = decision.to_dict()
        status = _status(decision, block_retrain=config.quality.block_retrain)
        if status == "not_enough_feedback":
            notes.insert(0, _not_enough(window_info, config))
    data_sha = model.get("data_sha256") or reference_summary.get("data_sha256")
    ref_sha = reference_summary.get("data_sha256")
    if model.get("data_sha256") and ref_sha and ref_sha != model["data_sha256"]:
        notes.append(
            "the reference profile was built from other data than the deployed "
            f"model's (data.sha256 {ref_sha[:12]} vs {model['data_sha256'][:12]}): "
            "run the reference_profile pipeline for the deployed model"
        )
    decision_json = {
        **body,
        "data_sha256": data_sha,
        "status": status,
        "notes": notes,
        "window": window_info,
        "model": model,
        "performance": {
            "n_feedback": window_performance["n_feedback"],
            "window": current,
            "training": training,
        },
        "reference": {
            "data_sha256": ref_sha,
            "matches_deployed_model": None
            if not (ref_sha and model.get("data_sha256"))
            else ref_sha == model["data_sha256"],
            "n_ratings": reference_summary.get("n_ratings"),
        },
        "serving": serving_summary,
    }
    return (
        decision_json,
        decision_json,
        _decision_metrics(decision_json),
        _decision_tags(decision_json),
    )


def _decision_metrics(decision: dict[str, Any]) -> dict[str, dict[str, float]]:
    values: dict[str, Any] = {
        "retrain": float(decision["retrain"]),
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
        "status": decision["status"],
        "window_end": decision["window"]["end"],
        "model_alias": str(model.get("alias")),
        "model_version": str(model.get("version")),
        "data_sha256": str(decision["data_sha256"]),
        "reasons": " | ".join(decision["reasons"])[:5000],
    }


# ------------------------------------------------------------------- reporting


def _summary_table(
    reference: ProfileView, window: ProfileView, columns: Collection[str]
) -> pd.DataFrame:
    stats = ["count", "null_share", "mean", "stddev", "min", "median", "max"]
    ref, win = summarize_view(reference), summarize_view(window)
    rows = {}
    for column in columns:
        for label, table in (("reference", ref), ("window", win)):
            if column in table.index:
                rows[(column, label)] = table.loc[column, stats]
    return pd.DataFrame(rows).T


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(float_format=lambda v: f"{v:.4g}", na_rep="-", border=0)


def report_monitoring(
    decision: dict[str, Any],
    reference_profile: ProfileView,
    window_profile: ProfileView,
    reference_prediction_profile: ProfileView,
    window_prediction_profile: ProfileView,
) -> str:
    """A self-contained HTML report of the decision (plots are separate PNGs)."""
    esc = html.escape
    verdict = "RETRAIN" if decision["retrain"] else decision["status"].upper()
    items = (
        "".join(f"<li>{esc(r)}</li>" for r in decision["reasons"]) or "<li>none</li>"
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in decision["notes"]) or "<li>none</li>"
    drift = decision["scores"].get("drift", {}).get("columns", {})
    drift_table = _html_table(pd.DataFrame(drift).T) if drift else "<p>not assessed</p>"
    quality = decision["scores"].get("quality", {})
    quality_table = (
        _html_table(pd.DataFrame(quality).T) if quality else "<p>not assessed</p>"
    )
    perf = decision["performance"]
    perf_frame = pd.DataFrame(
        {"training (holdout)": perf["training"] or {}, "window": perf["window"] or {}}
    )
    feature_table = _summary_table(
        reference_profile, window_profile, ["rating", "user_ratings", "new_user"]
    )
    prediction_table = _summary_table(
        reference_prediction_profile, window_prediction_profile, ["prediction"]
    )
    serving = decision["serving"]
    serving_html = (
        _html_table(pd.json_normalize(serving).T.rename(columns={0: "value"}))
        if serving.get("available")
        else f"<p>{esc(serving.get('reason', 'no serving profiles'))}</p>"
    )
    model = decision["model"]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>reelops monitoring</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}</style>
</head><body>
<h1>Monitoring: {esc(verdict)}</h1>
<p>Window {esc(decision["window"]["start"])} to {esc(decision["window"]["end"])}
({decision["window"]["n_rows"]} feedback rows). Deployed model:
{esc(str(model.get("model_name")))} v{esc(str(model.get("version")))}
(@{esc(str(model.get("alias")))}, {esc(str(model.get("estimator")))}), trained on
data sha256 {esc(str(decision["data_sha256"]))}.</p>
<h2>Reasons</h2><ul>{items}</ul>
<h2>Notes</h2><ul>{notes}</ul>
<h2>Drift</h2>{drift_table}
<h2>Data quality</h2>{quality_table}
<h2>Performance ({perf["n_feedback"]} rated rows)</h2>
{_html_table(perf_frame) if not perf_frame.empty else "<p>not assessed</p>"}
<h2>Features: reference vs window</h2>{_html_table(feature_table)}
<h2>Predictions: reference vs window (informational)</h2>
{_html_table(prediction_table)}
<h2>Serving</h2>{serving_html}
<p>Plots: drift_scores.png, performance.png, latency.png (same folder).</p>
</body></html>
"""


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _infinite(column: Mapping[str, Any]) -> bool:
    return column["score"] is None and column["category"] == "DRIFT"


def _bar_height(column: Mapping[str, Any], drift_threshold: float) -> float:
    if _infinite(column):
        return 1.5 * drift_threshold
    return float(column["score"] or 0.0)


def plot_monitoring(
    decision: dict[str, Any], monitoring: MonitoringConfig
) -> dict[str, Figure]:
    """PNG plots: drift scores vs thresholds, performance vs training, latency."""
    config = as_config(MonitoringConfig, monitoring, "parameters 'monitoring'")
    figs: dict[str, Figure] = {}
    fig, ax = _figure("Drift score per column (bars) and thresholds")
    columns = decision["scores"].get("drift", {}).get("columns", {})
    if columns:
        names = list(columns)
        colours = {"DRIFT": "#c0392b", "POSSIBLE_DRIFT": "#e1812c"}
        bars = ax.bar(
            names,
            [_bar_height(columns[n], config.drift.columns[n].drift) for n in names],
            color=[colours.get(columns[n]["category"], "#3b75af") for n in names],
        )
        # A score JSON holds as null in DRIFT is infinite (a category the
        # reference never had): drawn past the threshold and labelled.
        ax.bar_label(
            bars,
            labels=["inf" if _infinite(columns[n]) else "" for n in names],
        )
        for i, name in enumerate(names):
            spec = config.drift.columns[name]
            for level, style, label in (
                (spec.drift, "--", "DRIFT from"),
                (spec.possible_drift, ":", "POSSIBLE_DRIFT from"),
            ):
                ax.hlines(
                    level,
                    i - 0.45,
                    i + 0.45,
                    colors="black",
                    linestyles=style,
                    zorder=3,
                    label=label if i == 0 else None,
                )
        ax.legend(loc="upper right", fontsize=8)
        ax.set_ylabel("score")
    else:
        _no_data(ax, "drift not assessed (not enough feedback)")
    figs["drift_scores"] = fig

    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    axes = fig.subplots(1, 2)
    perf = decision["performance"]
    for ax, metric in zip(axes, ["rmse", "ndcg@10"], strict=True):
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        values = [
            (perf["training"] or {}).get(metric),
            (perf["window"] or {}).get(metric),
        ]
        if all(v is None for v in values):
            _no_data(ax, "not assessed")
            continue
        ax.bar(
            ["training (holdout)", "window"],
            [v or 0.0 for v in values],
            color=["#3b75af", "#e1812c"],
        )
    fig.tight_layout()
    figs["performance"] = fig

    fig, ax = _figure("Serving latency (ms)")
    serving = decision["serving"]
    if serving.get("available"):
        latency = {k: v for k, v in serving["latency_ms"].items() if v is not None}
        ax.bar(list(latency), list(latency.values()), color="#3b75af")
        ax.set_xlabel(
            f"{serving['requests']} requests, error rate "
            f"{(serving['error_rate'] or 0.0):.2%}"
        )
    else:
        _no_data(ax, "no serving profiles for the window")
    figs["latency"] = fig
    return figs
