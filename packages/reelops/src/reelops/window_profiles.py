"""The whylogs profiles monitoring compares: rating windows and predictions.

A window's features (:func:`~reelops_monitoring.window_features`: the rating, the
user's ratings in the window, whether the user is new, ...) and a model's
predictions on rated pairs are profiled the same way for the reference a training
run records and for a monitored window of feedback.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from reelops.evaluation import EvaluationConfig, window_metrics
from reelops_contracts import RATING_COLUMNS
from reelops_monitoring import ProfileView, merge_views, profile_view, window_features
from reelops_monitoring.adapter import replace_columns
from reelops_monitoring.decay import STRATA_KEY, merge_strata
from reelops_monitoring.effective import pooled_correlation
from reelops_monitoring.features import (
    FEATURE_COLUMNS,
    MEASURE_VERSION,
    RATING_LEVEL_COLUMNS,
    catalogue_head,
    head_share_by_tenure,
)
from reelops_monitoring.windows import Window, split_windows

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping, Sequence

    from recsys import BaseRecommender

__all__ = [
    "FittedModel",
    "RecentConfig",
    "deployment_identity",
    "model_name",
    "prediction_frame",
    "prediction_view",
    "reference_profiles",
    "reference_views",
    "traffic_key",
    "traffic_reference",
    "training_correlation",
    "training_reference",
    "window_view",
]

_KEY_FORMAT = "%Y%m%dT%H%M%S"

_RATING_COLUMNS = list(RATING_COLUMNS)


def reference_views(
    ratings: pd.DataFrame, movies: pd.DataFrame, *, freq: str = "Q"
) -> list[tuple[pd.Timestamp, ProfileView]]:
    """One profile per calendar window of ``ratings``, with the window's start.

    Each window's ``new_user`` is relative to the users seen before it.
    """
    return reference_profiles(ratings, movies, freq=freq)[0]


def reference_profiles(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    freq: str = "Q",
    correlated: Collection[str] = (),
    head_movies: Collection[int] | None = None,
    head_shares: pd.Series | None = None,
) -> tuple[list[tuple[pd.Timestamp, ProfileView]], dict[str, float]]:
    """:func:`reference_views`, and the intra-user correlation of ``correlated``.

    The correlations (:func:`~reelops_monitoring.effective.pooled_correlation`,
    users grouped within each window) set the effective sample sizes of drift.
    ``head_movies`` (the head of the catalogue of ``ratings``) and ``head_shares``
    (its share at each tenure in ``ratings``) give the windows' ``popular_movie``,
    for its correlation; no window is compared with it.
    """
    views = []
    frames = []
    for window, features in _features_in_time(
        ratings, movies, freq=freq, head_movies=head_movies, head_shares=head_shares
    ):
        views.append(
            (window.start, profile_view(features, dataset_timestamp=window.start))
        )
        if correlated:
            frames.append(features)
    return views, pooled_correlation(frames, correlated, "user_id")


_T = TypeVar("_T")


class RecentConfig(BaseModel):
    """Columns of the training reference taken from its latest windows only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the latest windows (None: all of them)
    windows: int | None = Field(default=4, ge=1)
    columns: tuple[str, ...] = ("new_user_rating", "new_user_ratings")

    @field_validator("columns")
    @classmethod
    def _profiled(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(columns) - set(FEATURE_COLUMNS))
        if unknown:
            raise ValueError(
                f"recent columns must be profiled window features "
                f"({', '.join(FEATURE_COLUMNS)}); not {unknown}"
            )
        return columns

    def latest(self, windows: Sequence[_T]) -> Sequence[_T]:
        """The latest ``self.windows`` of ``windows`` (in time order; None: all)."""
        return windows if self.windows is None else windows[-self.windows :]


def training_reference(
    views: Sequence[ProfileView], recent: RecentConfig | None = None
) -> ProfileView:
    """The training data's reference: its windows merged, some columns recent.

    ``views`` are the training data's windows in time order
    (:func:`reference_profiles`). ``recent.columns`` are taken from the merge of
    its latest windows only (:meth:`RecentConfig.latest`; None, no column or
    every window: every column from all of them). New users' ratings and
    activity describe cohorts, and a deployed model's first new users are like
    the training data's latest ones, not like a decade of them (on
    ml-latest-small, new users' ratings and activity against the whole history
    were every one of the 15 alarms on unchanged replayed quarters at first
    deployment). Their columns carry their own units (``new_user_ratings``), so
    taking them from fewer windows leaves the other columns' effective sizes as
    they were.

    Raises:
        ProfileError: If ``views`` is empty, or a recent column is not profiled.
    """
    merged = merge_views(views)
    latest = views if recent is None else recent.latest(views)
    if recent is None or not recent.columns or len(latest) == len(views):
        return merged
    return replace_columns(merged, merge_views(latest), list(recent.columns))


def training_correlation(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    freq: str = "Q",
    columns: Collection[str] = RATING_LEVEL_COLUMNS,
) -> dict[str, float]:
    """The intra-user correlation of ``columns`` in ``ratings`` (no profiling).

    What :func:`reference_profiles` records beside the profiles: users grouped
    within each calendar window (``popular_movie`` against the head of the
    catalogue of ``ratings``).
    """
    head = catalogue_head(ratings)
    frames = [
        features
        for _, features in _features_in_time(
            ratings,
            movies,
            freq=freq,
            head_movies=head,
            head_shares=head_share_by_tenure(ratings, head.index),
        )
    ]
    return pooled_correlation(frames, columns, "user_id")


def _features_in_time(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    freq: str,
    head_movies: Collection[int] | None,
    head_shares: pd.Series | None,
) -> Iterator[tuple[Window, pd.DataFrame]]:
    """Each calendar window of ``ratings`` and its features, in time order.

    Its users are known, and their tenures counted, from the windows before it.
    """
    seen: set[int] = set()
    earlier = pd.Series(dtype="float64")
    for window in split_windows(ratings, freq=freq):
        yield (
            window,
            window_features(
                window.ratings,
                movies,
                frozenset(seen),
                head_movies=head_movies,
                head_shares=head_shares,
                tenure=earlier,
            ),
        )
        seen.update(window.ratings["user_id"].tolist())
        counts = window.ratings.groupby("user_id").size().astype("float64")
        earlier = earlier.add(counts, fill_value=0.0)


def window_view(
    window_feedback: pd.DataFrame,
    movies: pd.DataFrame,
    known_users: Collection[int],
    start: str,
    *,
    predictions: pd.DataFrame | None = None,
    user_habits: pd.DataFrame | None = None,
    head_movies: Collection[int] | None = None,
    head_shares: pd.Series | None = None,
) -> ProfileView:
    """Profile of a window's feedback features, stamped with the window's ``start``.

    ``new_user`` is relative to ``known_users`` (the deployed model's users);
    ``known_user_residual`` rests on ``predictions``, the deployed model's
    (:func:`prediction_frame`); ``popular_movie`` on ``head_movies``, the head of
    its catalogue; ``known_user_half_star_shift`` and ``known_user_popular_shift``
    on ``user_habits``, the users' habits in its training data by ``user_id``
    (:func:`~reelops_monitoring.features.user_habits` on that head): a habit
    absent from it (habits recorded before ``popular_share``) leaves its column
    null. With ``head_shares`` (the head's share at each tenure in that training
    data), ``popular_movie`` is taken against the share at each rating's tenure,
    counted from the users' ``n_ratings`` in ``user_habits``.
    """
    habits = pd.DataFrame() if user_habits is None else user_habits
    features = window_features(
        window_feedback[_RATING_COLUMNS],
        movies,
        known_users,
        predictions=predictions,
        half_star_shares=habits.get("half_star_share"),
        head_movies=head_movies,
        popular_shares=habits.get("popular_share"),
        head_shares=head_shares,
        tenure=habits.get("n_ratings"),
    )
    return profile_view(features, dataset_timestamp=pd.Timestamp(start).to_pydatetime())


def prediction_frame(
    model: BaseRecommender | None, pairs: pd.DataFrame
) -> pd.DataFrame:
    """``model``'s predictions on ``pairs``, empty without a model.

    Columns ``user_id``, ``movie_id``, ``prediction`` and ``cold_start`` (true
    where the model fell back).
    """
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


@dataclass(frozen=True)
class FittedModel:
    """A recommender fitted on ``history``, as the monitoring replay judges with it.

    :class:`reelops_monitoring.replay.Deployed`: its predictions give known users'
    residuals (:func:`prediction_frame`), its metrics on a window are the
    monitoring pipeline's (:func:`~reelops.evaluation.window_metrics`: RMSE on
    every rated pair, NDCG@k on the pairs it had not seen).
    """

    model: BaseRecommender
    history: pd.DataFrame
    evaluation: EvaluationConfig | dict[str, Any]

    def predict(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """:func:`prediction_frame` of the model on ``pairs``."""
        return prediction_frame(self.model, pairs)

    def evaluate(self, window: pd.DataFrame) -> dict[str, Any]:
        """The model's metrics on ``window`` (rated pairs with a rating)."""
        rated = window[window["rating"].notna()]
        if rated.empty:
            return {}
        return window_metrics(self.model, self.history, rated, self.evaluation)


def prediction_view(model: BaseRecommender | None, pairs: pd.DataFrame) -> ProfileView:
    """Profile of ``model``'s predictions on ``pairs`` (empty without a model)."""
    return profile_view(prediction_frame(model, pairs))


def traffic_key(start: str, end: str) -> str:
    """The partition a window's profile is kept under: ``<start>-<end>`` (UTC)."""
    return "-".join(
        f"{pd.Timestamp(moment).tz_convert('UTC'):{_KEY_FORMAT}}"
        for moment in (start, end)
    )


def _bounds(key: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    try:
        start, end = key.rsplit("/", 1)[-1].split("-")
        return (
            pd.Timestamp(start.strip()).tz_localize("UTC"),
            pd.Timestamp(end.strip()).tz_localize("UTC"),
        )
    except ValueError:
        return None


def deployment_identity(model: str | None, head: pd.Series | Collection[int]) -> str:
    """A short name of a deployment: sha256 of its model, head and measure.

    ``model`` names the served model (its registry version and run id); ``head``
    is the head of the catalogue its reference stage measured (the movie ids, or a
    :func:`~reelops_monitoring.features.catalogue_head` series, which counts by its
    index); :data:`~reelops_monitoring.features.MEASURE_VERSION` names how the
    columns compared within a deployment are measured, so an upgrade that changes
    it starts afresh, as a retrain does. Windows kept with the same name were
    served by the same model and measured ``popular_movie`` alike: their
    residuals, metrics and head shares are comparable with each other, not with
    another deployment's.
    """
    ids = head.index if isinstance(head, pd.Series) else head
    text = ",".join(str(i) for i in sorted(int(i) for i in ids))
    named = f"{model or ''}|{text}|measure {MEASURE_VERSION}"
    return hashlib.sha256(named.encode()).hexdigest()[:16]


def model_name(info: Mapping[str, Any] | None) -> str | None:
    """The served model's name in :func:`deployment_identity`.

    ``<registered name>:v<version>-<run id>`` from the deployed model's ``info``
    (:class:`~reelops.datasets.deployed_model.DeployedModelDataset`); None when
    nothing is served.
    """
    if not info or info.get("version") is None:
        return None
    name, run = info.get("model_name") or "", info.get("run_id") or ""
    return f"{name}:v{info['version']}-{run}"


def traffic_reference(
    history: Mapping[str, Callable[[], ProfileView] | ProfileView],
    start: str,
    n_windows: int,
    metrics: Mapping[str, Callable[[], dict[str, Any]] | dict[str, Any]] | None = None,
    *,
    deployment: str | None = None,
) -> dict[str, Any]:
    """The previous windows of served traffic, merged: the ``traffic`` reference.

    From the window that ended last at or before ``start``, back through windows
    each ending at or before the start of the one after it (monitoring runs may
    overlap: a daily run of a 90-day window; only a chain of disjoint windows is
    taken, so no rating counts twice), at most ``n_windows``.

    Args:
        history: ``{traffic_key: profile or loader}`` of the windows kept by
            earlier monitoring runs (a partitioned dataset); other keys ignored.
        start: The assessed window's start (ISO).
        n_windows: How many windows to merge at most.
        metrics: ``{traffic_key: the deployed model's metrics on the window}``,
            kept beside the profiles. An entry's ``deployment`` names the
            deployment that served its window (:func:`deployment_identity`).
        deployment: The assessed window's deployment: the chosen windows it
            served make the ``deployment`` reference, and only their metrics are
            averaged (another model's metrics say nothing of this one's decay).
            None: every chosen window's metrics are averaged.

    Returns:
        ``{"profile": merged view or None, "windows": [keys, newest first],
        "metrics": {metric: mean over the averaged windows that have it,
        "ranking_strata": their ranked users pooled by stratum} or None,
        "deployment": merged view of the chosen windows of ``deployment`` or None,
        "deployment_windows": [their keys]}``.
    """
    bounds = {key: b for key in history if (b := _bounds(key)) is not None}
    chosen: list[str] = []
    limit = pd.Timestamp(start).tz_convert("UTC")
    while len(chosen) < n_windows:
        earlier = [k for k, (_, end) in bounds.items() if end <= limit]
        if not earlier:
            break
        key = max(earlier, key=lambda k: (bounds[k][1], bounds[k][0]))
        chosen.append(key)
        limit = bounds[key][0]
    if not chosen:
        return {
            "profile": None,
            "windows": [],
            "metrics": None,
            "deployment": None,
            "deployment_windows": [],
        }
    views = [history[key] for key in chosen]
    loaded = [view() if callable(view) else view for view in views]
    entries = {key: _loaded((metrics or {}).get(key)) for key in chosen}
    same = [
        i
        for i, key in enumerate(chosen)
        if deployment is not None and entries[key].get("deployment") == deployment
    ]
    averaged = chosen if deployment is None else [chosen[i] for i in same]
    return {
        "profile": merge_views(loaded),
        "windows": chosen,
        "metrics": _mean_metrics(entries, averaged),
        "deployment": merge_views([loaded[i] for i in same]) if same else None,
        "deployment_windows": [chosen[i] for i in same],
    }


def _loaded(
    entry: Callable[[], dict[str, Any]] | dict[str, Any] | None,
) -> dict[str, Any]:
    if entry is None:
        return {}
    return entry() if callable(entry) else entry


def _mean_metrics(
    metrics: Mapping[str, dict[str, Any]], keys: list[str]
) -> dict[str, Any] | None:
    loaded = [metrics[key] for key in keys if metrics.get(key)]
    values: dict[str, list[float]] = {}
    errors: dict[str, list[float]] = {}
    for entry in loaded:
        for name, value in entry.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(name, []).append(float(value))
        for name, value in (entry.get("standard_errors") or {}).items():
            errors.setdefault(name, []).append(float(value))
    if not values:
        return None
    mean: dict[str, Any] = {name: sum(v) / len(v) for name, v in values.items()}
    # the error of a mean of independent windows' values
    mean["standard_errors"] = {
        name: math.sqrt(sum(e * e for e in found)) / len(found)
        for name, found in errors.items()
    }
    # the windows' users pooled, stratum by stratum, for each ranking metric
    named = {name for entry in loaded for name in entry.get(STRATA_KEY) or {}}
    mean[STRATA_KEY] = {
        name: merge_strata((entry.get(STRATA_KEY) or {}).get(name) for entry in loaded)
        for name in sorted(named)
    }
    return mean
