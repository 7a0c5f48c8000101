"""Lifecycle replay: MovieLens in time order, served, monitored and retrained.

A model is trained on the ratings before ``replay.start``; then, window by window
(calendar quarters by default), it

1. serves recommendations to the window's active users, in process, each request
   profiled with :func:`reelops_monitoring.profile_frame` like the service does;
2. takes the window's ratings as feedback and runs the monitoring of
   ``pipelines/monitoring.yml`` on it, with the same functions (profile, deployed
   model metrics, serving summary, :func:`~reelops.retrain_decision.retrain_decision`
   against the model's reference profile and holdout metrics);
3. retrains on every rating up to the window's end when its policy says so, and
   redeploys: the new model serves the next window.

Policies: ``never``, ``every_window`` and ``triggered`` (retrain when the decision
says so). Each runs as one namespace of ``pipelines/replay.yml`` on the same
timeline; :func:`compare_policies` and :func:`plot_replay` put them side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from reelops._pydantic import as_config
from reelops._types import BaseRecommender, Figure
from reelops.challenger import ChallengerPackage
from reelops.deployed_performance import deployed_performance
from reelops.errors import ConfigError
from reelops.evaluation import EvaluationConfig
from reelops.fitting import EstimatorSpec, fit_estimator
from reelops.holdout import evaluate_on_holdout
from reelops.retrain_decision import retrain_decision
from reelops.serving_summary import summarize_requests
from reelops.user_features import user_features
from reelops.window_profiles import (
    RecentConfig,
    deployment_identity,
    reference_views,
    traffic_key,
    traffic_reference,
    training_correlation,
    training_reference,
    window_view,
)
from reelops_contracts import RATING_COLUMNS, REQUEST_PROFILE_COLUMNS
from reelops_monitoring import (
    MonitoringConfig,
    ProfileView,
    deserialize_view,
    profile_frame,
)
from reelops_monitoring.features import (
    catalogue_head,
    head_share_by_tenure,
    user_habits,
)
from reelops_monitoring.raters import screen_raters
from reelops_monitoring.windows import split_windows

__all__ = [
    "ReplayConfig",
    "compare_policies",
    "plot_replay",
    "profile_history",
    "replay_policy",
    "serve_window",
]

Policy = Literal["never", "every_window", "triggered"]

_METRICS = ("rmse", "ndcg@10")
_POLICIES: tuple[Policy, ...] = ("never", "every_window", "triggered")


class ReplayConfig(BaseModel):
    """The replay's timeline, model and monitoring (``parameters_replay.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = "2008-01-01"
    end: str | None = None
    freq: str = "Q"
    # A factory: building the spec imports recsys (it validates the estimator), which
    # importing this module for `kedro registry list` must not do.
    estimator: EstimatorSpec = Field(default_factory=lambda: EstimatorSpec(name="bias"))
    seed: int = 42
    holdout_days: float = Field(default=90, gt=0)
    # the columns of a deployed model's reference from its training data's latest
    # windows only (as monitoring_reference.recent)
    recent_reference: RecentConfig = RecentConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    monitoring: MonitoringConfig = MonitoringConfig()


def _timeline_ratings(ratings: pd.DataFrame, cfg: ReplayConfig) -> pd.DataFrame:
    data = ratings[list(RATING_COLUMNS)]
    if cfg.end is None:
        return data
    return data[data["timestamp"] < pd.Timestamp(cfg.end, tz="UTC").timestamp()]


def profile_history(
    ratings: pd.DataFrame, movies: pd.DataFrame, replay: ReplayConfig
) -> dict[str, ProfileView]:
    """One profile per window of the timeline, shared by every policy.

    Each window's ``new_user`` is relative to the users seen before it; a model
    trained up to a window boundary has, as reference, the merge of the last
    ``reference_windows`` profiles before that boundary (as
    :func:`~reelops.nodes.reference.build_reference_profile` builds it).

    Returns:
        ``{window start (yyyy-mm-dd): profile}``.
    """
    cfg = as_config(ReplayConfig, replay, "parameters 'replay'")
    views = reference_views(_timeline_ratings(ratings, cfg), movies, freq=cfg.freq)
    return {str(start.date()): view for start, view in views}


def _fit(train: pd.DataFrame, cfg: ReplayConfig) -> BaseRecommender:
    model, _ = fit_estimator(train, cfg.estimator, cfg.seed)
    return model


def serve_window(
    model: BaseRecommender,
    users: np.ndarray,
    activity: dict[int, str],
    *,
    start: pd.Timestamp,
    k: int,
) -> ProfileView:
    """Recommend to each user once, profile the requests as the service would.

    Returns:
        The requests' whylogs profile (serialized with ``profile_frame`` and read
        back, as the monitoring pipeline reads the service's flushes).
    """
    rows = []
    for offset, user in enumerate(users.tolist()):
        began = time.perf_counter()
        recs = model.recommend([user], k, exclude_seen=True)
        latency_ms = (time.perf_counter() - began) * 1e3
        rows.append(
            (
                float(start.timestamp() + offset),
                "/recommend",
                activity.get(int(user), "unknown"),
                k,
                "",
                0,
                True,
                bool(recs.fallback[0]) if len(recs) else True,
                len(recs),
                float(recs.score[0]) if len(recs) else np.nan,
                latency_ms,
            )
        )
    frame = pd.DataFrame.from_records(rows, columns=list(REQUEST_PROFILE_COLUMNS))
    return deserialize_view(
        profile_frame(frame, dataset_timestamp=start.to_pydatetime())
    )


class _Deployment:
    """A deployed model: itself, its training data and what monitoring needs."""

    def __init__(
        self,
        ratings: pd.DataFrame,
        history: list[tuple[pd.Timestamp, ProfileView]],
        cutoff: pd.Timestamp,
        cfg: ReplayConfig,
        *,
        version: int,
        movies: pd.DataFrame,
    ) -> None:
        self.train = ratings[ratings["timestamp"] < cutoff.timestamp()]
        self.correlation = training_correlation(self.train, movies, freq=cfg.freq)
        self.head = catalogue_head(self.train)
        self.habits = user_habits(self.train, self.head)
        self.head_shares = head_share_by_tenure(self.train, self.head.index)
        self.identity = deployment_identity(f"v{version}", self.head)
        self.model = _fit(self.train, cfg)
        self.reference = training_reference(
            [view for start, view in history if start < cutoff], cfg.recent_reference
        )
        self.holdout = evaluate_on_holdout(
            self.model,
            self.train,
            holdout_days=cfg.holdout_days,
            evaluation=cfg.evaluation,
        )
        features = user_features(self.train)
        self.activity = dict(
            zip(
                features["user_id"].tolist(), features["activity"].tolist(), strict=True
            )
        )
        self.cutoff = cutoff
        self.version = version


def _window_row(
    policy: Policy,
    deployed: _Deployment,
    decision: dict[str, Any],
    retrain: bool,
    label: str,
) -> dict[str, Any]:
    window = decision["performance"]["window"] or {}
    training = decision["performance"]["training"] or {}
    serving = decision["serving"]
    columns = decision["scores"].get("drift", {}).get("columns", {})
    return {
        "policy": policy,
        "window": label,
        "window_start": decision["window"]["start"],
        "n_ratings": decision["window"]["n_rows"],
        "model_version": deployed.version,
        "trained_until": str(deployed.cutoff.date()),
        **{metric: window.get(metric) for metric in _METRICS},
        **{f"holdout_{metric}": training.get(metric) for metric in _METRICS},
        "decision_retrain": decision["retrain"],
        "retrained": retrain,
        "status": decision["status"],
        "reasons": "; ".join(decision["reasons"]),
        **{f"score_{c}": d["score"] for c, d in columns.items()},
        "requests": serving.get("requests"),
        "cold_start_rate": serving.get("cold_start_rate"),
        "latency_p95_ms": (serving.get("latency_ms") or {}).get("p95"),
    }


def replay_policy(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    history: Mapping[str, ProfileView | Callable[[], ProfileView]],
    policy: Policy,
    replay: ReplayConfig,
) -> tuple[pd.DataFrame, ChallengerPackage]:
    """Replay the timeline under one retraining policy.

    Args:
        ratings: Validated ratings (``user_id, movie_id, rating, timestamp``).
        movies: Validated movies (``movie_id, genres``).
        history: :func:`profile_history` (profiles, or loaders of them).
        policy: ``never``, ``every_window`` or ``triggered``.
        replay: The replay parameters (:class:`ReplayConfig`).

    Returns:
        One row per served window (metrics, decision, drift scores, serving
        summary, whether the policy retrained after it), and the last deployed
        model, registered as ``reelops-replay-recommender@<policy>`` (catalog).

    Raises:
        ConfigError: On an unknown parameter or policy.
    """
    cfg = as_config(ReplayConfig, replay, "parameters 'replay'")
    if policy not in _POLICIES:
        raise ConfigError(
            f"replay policy must be one of {list(_POLICIES)}, got '{policy}' instead"
        )
    data = _timeline_ratings(ratings, cfg)
    start = pd.Timestamp(cfg.start)
    views = sorted(
        (pd.Timestamp(label), view() if callable(view) else view)
        for label, view in history.items()
    )
    windows = [w for w in split_windows(data, freq=cfg.freq) if w.start >= start]
    monitoring = cfg.monitoring
    deployed = _Deployment(data, views, start, cfg, version=1, movies=movies)
    rows = []
    # the windows already served (and passing the quality checks), as the
    # monitoring pipeline keeps them: the traffic reference of the next ones
    served: dict[str, ProfileView] = {}
    served_metrics: dict[str, dict[str, Any]] = {}
    for window in windows:
        info: dict[str, Any] = {
            "start": window.start.tz_localize("UTC").isoformat(),
            "end": window.end.tz_localize("UTC").isoformat(),
            "n_rows": len(window.ratings),
        }
        users = window.ratings["user_id"].drop_duplicates().to_numpy()
        requests = serve_window(
            deployed.model,
            users,
            deployed.activity,
            start=window.start.tz_localize("UTC"),
            k=cfg.evaluation.k,
        )
        serving = summarize_requests({f"{window.label}/replay": requests}, info)
        info_model = {"model_name": "replay", "version": str(deployed.version)}
        # suspicious raters are left out, as the monitoring pipeline quarantines them
        screen = screen_raters(window.ratings, monitoring.raters)
        kept, _ = screen.split(window.ratings)
        performance, predictions = deployed_performance(
            deployed_model={"model": deployed.model, "info": info_model},
            window_feedback=kept,
            evaluation=cfg.evaluation,
        )
        profile = window_view(
            kept,
            movies,
            performance["known_users"],
            info["start"],
            predictions=predictions,
            user_habits=deployed.habits,
            head_movies=deployed.head,
            head_shares=deployed.head_shares,
        )
        decision = retrain_decision(
            reference_profile=deployed.reference,
            window_profile=profile,
            reference_summary={
                "data_sha256": None,
                "n_ratings": len(deployed.train),
                "intra_user_correlation": deployed.correlation,
            },
            holdout_metrics=deployed.holdout,
            window_info=info,
            window_performance=performance,
            serving_summary=serving,
            config=monitoring,
            traffic_reference=traffic_reference(
                served,
                info["start"],
                monitoring.drift.traffic_windows,
                served_metrics,
                deployment=deployed.identity,
            ),
            rater_screen=screen.to_dict(),
        )
        if all(q["passed"] for q in decision["scores"].get("quality", {}).values()):
            key = traffic_key(info["start"], info["end"])
            served[key] = profile
            served_metrics[key] = {
                **(performance["metrics"] or {}),
                "deployment": deployed.identity,
            }
        retrain = policy == "every_window" or (
            policy == "triggered" and bool(decision["retrain"])
        )
        rows.append(_window_row(policy, deployed, decision, retrain, window.label))
        if retrain:
            deployed = _Deployment(
                data,
                views,
                window.end,
                cfg,
                version=deployed.version + 1,
                movies=movies,
            )
    timeline = pd.DataFrame(rows)
    example = (
        deployed.train[["user_id", "movie_id"]].head(5).astype("int64")
    ).reset_index(drop=True)
    summary = _policy_summary(timeline)
    package = ChallengerPackage(
        candidate=f"replay-{policy}",
        estimator=deployed.model,
        metrics={k: float(v) for k, v in summary.items() if v is not None},
        input_example=example,
        tags={
            "replay.policy": policy,
            "replay.trained_until": str(deployed.cutoff.date()),
            "replay.start": cfg.start,
        },
    )
    return timeline, package


def _policy_summary(timeline: pd.DataFrame) -> dict[str, float | int | None]:
    def mean(column: str) -> float | None:
        if column not in timeline.columns:
            return None
        values = pd.to_numeric(timeline[column], errors="coerce").dropna()
        return round(float(values.mean()), 6) if len(values) else None

    return {
        "windows": len(timeline),
        "retrains": int(timeline["retrained"].sum()) if len(timeline) else 0,
        "mean_rmse": mean("rmse"),
        "mean_ndcg@10": mean("ndcg@10"),
    }


def compare_policies(
    replay: ReplayConfig, **timelines: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, dict[str, float]]]:
    """Every policy's timeline in one table, their means, and the bar.

    The bar: the triggered policy's mean RMSE within 2 % of retraining every
    window, with at most half of its retrains, and better than never retraining.

    Returns:
        The table (CSV), the summary (JSON) and MLflow metrics.
    """
    cfg = as_config(ReplayConfig, replay, "parameters 'replay'")
    table = pd.concat(timelines.values(), ignore_index=True)
    per_policy = {
        str(frame["policy"].iloc[0]): _policy_summary(frame)
        for frame in timelines.values()
        if len(frame)
    }
    summary: dict[str, Any] = {
        "start": cfg.start,
        "end": cfg.end,
        "freq": cfg.freq,
        "estimator": cfg.estimator.model_dump(),
        "policies": per_policy,
        "bar": _bar(per_policy),
    }
    metrics = {
        f"{policy}.{key.replace('@', '_at_')}": {"value": float(value), "step": 0}
        for policy, values in per_policy.items()
        for key, value in values.items()
        if value is not None
    }
    return table, summary, metrics


def _bar(per_policy: dict[str, dict[str, Any]]) -> dict[str, Any]:
    try:
        never, every, triggered = (per_policy[p] for p in _POLICIES)
    except KeyError:
        return {"assessed": False, "reason": "the three policies are needed"}
    if None in (never["mean_rmse"], every["mean_rmse"], triggered["mean_rmse"]):
        return {"assessed": False, "reason": "a policy served no rated window"}
    gap = triggered["mean_rmse"] / every["mean_rmse"] - 1.0
    checks = {
        "rmse_within_2pct_of_every_window": gap <= 0.02,  # noqa: PLR2004 - the bar
        "at_most_half_the_retrains": 2 * triggered["retrains"] <= every["retrains"],
        "better_than_never": triggered["mean_rmse"] < never["mean_rmse"],
    }
    return {
        "assessed": True,
        "rmse_gap_vs_every_window": round(gap, 6),
        "rmse_gain_vs_never": round(
            1.0 - triggered["mean_rmse"] / never["mean_rmse"], 6
        ),
        "retrain_ratio_vs_every_window": round(
            triggered["retrains"] / max(every["retrains"], 1), 6
        ),
        **checks,
        "passed": all(checks.values()),
    }


def plot_replay(replay_table: pd.DataFrame) -> Figure:
    """RMSE and NDCG@10 per window and policy; triangles mark retrains."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 7), dpi=100)
    axes = fig.subplots(2, 1, sharex=True)
    colours = {"never": "#7f7f7f", "every_window": "#3b75af", "triggered": "#e1812c"}
    for ax, metric in zip(axes, _METRICS, strict=True):
        for policy, frame in replay_table.groupby("policy", sort=False):
            x = pd.to_datetime(frame["window"])
            y = pd.to_numeric(frame[metric], errors="coerce")
            colour = colours.get(str(policy), "#2ca02c")
            ax.plot(x, y, marker=".", lw=1.2, color=colour, label=str(policy))
            retrained = frame["retrained"].astype(bool).to_numpy()
            ax.scatter(
                x[retrained], y[retrained], marker="^", s=40, color=colour, zorder=3
            )
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].set_title("Replay: per-window metrics by retraining policy (^ = retrain)")
    axes[0].legend(loc="upper left")
    axes[1].set_xlabel("window start")
    fig.tight_layout()
    return fig
