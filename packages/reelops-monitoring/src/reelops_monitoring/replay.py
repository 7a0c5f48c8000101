"""Replay a ratings log window by window: decisions, detection and false alarms.

For each window (after the first ``n_reference``), the reference is the merge of
the previous ``n_reference`` windows' profiles, the way a model retrained on its
recent past would be monitored (their intra-user correlations set the effective
sample sizes); ``known_users`` are the users seen before the
window. A ``prior`` is the ratings before the stream: the training data of the
model serving its first windows (a stream alone starts with a model of no
ratings). Given a ``fit`` function (a model fitted on every rating before the
window, as a deployed model would be), known users' ratings are also profiled as
residuals against it, and its metrics on each case (RMSE, NDCG@10) say how much an
injected shift hurts it. The window is assessed as it is (scenario ``"none"``) and
once per injected :class:`~reelops_monitoring.scenarios.Scenario`.

``popular_movie`` is measured against the head of the catalogue of the ratings
before the reference's first window, for the window and for every reference
window (re-measured: the ``deployment`` reference), as if a model deployed then
had served them all; a column measured against each window's own history would
drift with it (movies later users like climb into the head), which no deployment
does between its retrains. ``known_user_popular_shift`` is measured against the
same head, each window's users' shares of it in the ratings before that window (as
the residuals are against the model fitted on them). The ``deployment`` reference
is the reference windows' merged profile with those two columns so re-measured:
its residual columns are the windows' own (each against the model fitted before
it, taken as one deployment's).

:func:`false_alarm_rate`, :func:`detection_table`, :func:`degradation_table` and
:func:`calibrate_thresholds` summarize the resulting table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from reelops_monitoring.adapter import merge_views, profile_view, replace_columns
from reelops_monitoring.decay import relative_degradation
from reelops_monitoring.decision import assess_window
from reelops_monitoring.drift import moved
from reelops_monitoring.effective import pooled_correlation
from reelops_monitoring.errors import InvalidInputError
from reelops_monitoring.features import (
    HEAD_COLUMNS,
    catalogue_head,
    half_star_shares,
    head_share_by_tenure,
    latest_ratings,
    popular_movie,
    popular_shares,
    popular_shift,
    window_features,
)
from reelops_monitoring.raters import screen_raters
from reelops_monitoring.windows import split_rows, split_windows

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from reelops_monitoring.adapter import ProfileView
    from reelops_monitoring.config import MonitoringConfig
    from reelops_monitoring.scenarios import Scenario

__all__ = [
    "NO_INJECTION",
    "Deployed",
    "calibrate_thresholds",
    "degradation_table",
    "detection_table",
    "directed_score",
    "false_alarm_rate",
    "replay",
]

#: The scenario name of windows assessed as they are.
NO_INJECTION = "none"
#: The deployed model's metrics :func:`replay` records on every case.
REPLAY_METRICS = ("rmse", "ndcg@10")


class Deployed(Protocol):
    """A model fitted on every rating before a window, as :func:`replay` uses it."""

    def predict(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Predictions on ``pairs``: ``user_id, movie_id, prediction, cold_start``."""
        ...

    def evaluate(self, window: pd.DataFrame) -> Mapping[str, Any]:
        """The model's metrics on a window of ratings (``rmse``, ``ndcg@10``, ...)."""
        ...


def replay(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    config: MonitoringConfig,
    *,
    scenarios: Sequence[Scenario] = (),
    n_reference: int = 8,
    freq: str = "Q",
    rows: int | None = None,
    seed: int = 0,
    stream: str = "",
    fit: Callable[[pd.DataFrame], Deployed] | None = None,
    prior: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assess every window of ``ratings`` against its trailing reference.

    Args:
        ratings: Primary ratings (epoch-second timestamps).
        movies: Primary movies (``movie_id``, ``genres``).
        config: The monitoring configuration (thresholds).
        scenarios: Drifts to inject in each assessed window, one at a time.
        n_reference: Windows merged into each window's reference.
        freq: Window length (pandas period frequency).
        rows: Windows of this many consecutive ratings in time order instead of
            calendar windows (:func:`~reelops_monitoring.windows.split_rows`).
        seed: Base seed of the injections (window ``i`` uses ``seed + i``).
        stream: A label copied into every row (e.g. ``"real"``, ``"shuffled-3"``).
        fit: ``fit(history)``: a model fitted on ``history`` (every rating before
            the window), :class:`Deployed`: its predictions give known users'
            residuals, its metrics on each case how much a shift hurts it. None:
            no residuals, no metrics.
        prior: Ratings before the stream (all earlier than its first), the
            training data a model serving its first windows already had: part of
            every window's history (the fitted model, the head of the catalogue,
            the users' habits and tenures; their users are known), never judged.
            None: the stream starts with nothing before it.

    Raises:
        InvalidInputError: If ``prior`` holds a rating at or after the stream's
            first.

    Returns:
        One row per (window, scenario): ``stream``, ``window`` (its start date),
        ``window_index`` (its position in the stream: windows of a few ratings
        can share a date), ``scenario``,
        ``n_rows``, ``assessed``, ``retrain``, ``alert``, ``detected`` (the
        scenario's reason was given; ``None`` for ``"none"``), ``reasons``,
        ``rmse`` and ``ndcg@10`` (the fitted model's on the case's ratings, as
        received; NaN without ``fit`` or when the model could not rank: how
        much a shift degrades the deployed model) and one ``score_<column>``
        per drift column.
    """
    windows = (
        split_windows(ratings, freq=freq)
        if rows is None
        else split_rows(ratings, rows=rows)
    )
    views: list[ProfileView] = []
    frames: list[pd.DataFrame] = []
    records: list[dict[str, Any]] = []
    heads: list[pd.Series | None] = []
    # the head's share at each tenure in each window's history
    head_shares: list[pd.Series | None] = []
    # each window's history as popular_shares reads it: every user's latest ratings
    latest: list[pd.DataFrame] = []
    # each window's users' numbers of ratings before it (their tenure)
    tenures: list[pd.Series] = []
    before = _before_stream(prior, ratings)
    seen: set[int] = set(before["user_id"].tolist())
    for index, window in enumerate(windows):
        known = frozenset(seen)
        history = pd.concat(
            [before, ratings[ratings["timestamp"] < window.ratings["timestamp"].min()]]
        )
        history_head = None if history.empty else catalogue_head(history)
        heads.append(history_head)
        head_shares.append(
            None
            if history_head is None
            else head_share_by_tenure(history, history_head.index)
        )
        latest.append(latest_ratings(history))
        tenures.append(history.groupby("user_id").size().astype("float64"))
        # the head of a model deployed at the reference's first window
        head = heads[max(index - n_reference, 0)]
        shares_by_tenure = head_shares[max(index - n_reference, 0)]
        own_popular = None if head is None else popular_shares(latest[-1], head)
        fitted = None if fit is None or history.empty else fit(history)
        shares = None if fitted is None else half_star_shares(history)
        cases: list[tuple[str, pd.DataFrame, Scenario | None]] = [
            (NO_INJECTION, window.ratings, None)
        ]
        if index >= n_reference:  # the first windows only build references
            cases += [
                (
                    injection.name,
                    injection.inject(window.ratings, seed + index),
                    injection,
                )
                for injection in scenarios
            ]
        judged = []
        for name, ratings_case, scenario in cases:
            # suspicious raters are quarantined, the rest judged, as monitoring does
            screen = screen_raters(ratings_case, config.raters)
            kept, _ = screen.split(ratings_case)
            predictions = None if fitted is None else fitted.predict(ratings_case)
            features = window_features(
                kept,
                movies,
                known,
                predictions=predictions,
                half_star_shares=shares,
                head_movies=head,
                popular_shares=own_popular,
                head_shares=shares_by_tenure,
                tenure=tenures[-1],
            )
            target = profile_view(features, dataset_timestamp=window.start)
            found = {} if fitted is None else fitted.evaluate(ratings_case)
            metrics = {m: float(found.get(m, math.nan)) for m in REPLAY_METRICS}
            judged.append((name, target, scenario, metrics, screen))
            if scenario is None:
                views.append(target)
                frames.append(features)
        seen.update(window.ratings["user_id"].tolist())
        if index < n_reference:
            continue
        reference = merge_views(views[index - n_reference : index])
        remeasured = _remeasured(
            frames[index - n_reference : index],
            latest[index - n_reference : index],
            tenures[index - n_reference : index],
            head,
            shares_by_tenure,
        )
        # the reference windows as one deployment served them: their residuals as
        # measured, the head's columns against the one head (without a head, the
        # window's are null: nothing to re-measure)
        deployment = (
            reference
            if remeasured is None
            else replace_columns(reference, remeasured, list(HEAD_COLUMNS))
        )
        correlation = (
            pooled_correlation(
                frames[index - n_reference : index],
                config.drift.columns,
                config.drift.unit_column,
            )
            if config.drift.unit_column is not None
            else None
        )
        for name, target, scenario, metrics, screen in judged:
            decision = assess_window(
                reference,
                target,
                config,
                traffic=reference,
                deployment=deployment,
                correlation=correlation,
                raters=screen,
            )
            drift = decision.scores["drift"]
            records.append(
                {
                    "stream": stream,
                    "window": window.label,
                    "window_index": index,
                    "scenario": name,
                    "n_rows": drift["n_rows"],
                    "assessed": drift["assessed"],
                    "retrain": decision.retrain,
                    "alert": decision.alert,
                    "detected": None
                    if scenario is None
                    else scenario.detected(decision.reasons),
                    "reasons": "; ".join(decision.reasons),
                    **metrics,
                    **{
                        f"score_{column}": directed_score(
                            drift["columns"].get(column), spec.direction
                        )
                        for column, spec in config.drift.columns.items()
                    },
                }
            )
    return pd.DataFrame(records)


def _before_stream(prior: pd.DataFrame | None, ratings: pd.DataFrame) -> pd.DataFrame:
    """``prior``, checked to end before ``ratings`` start (none: no rows)."""
    if prior is None:
        return ratings.iloc[:0]
    if len(prior) and len(ratings):
        prior_end, start = prior["timestamp"].max(), ratings["timestamp"].min()
        if prior_end >= start:
            raise InvalidInputError(
                "prior must end before the stream starts: its latest rating is at "
                f"{prior_end}, the stream's first at {start}"
            )
    return prior


def _remeasured(
    frames: Sequence[pd.DataFrame],
    histories: Sequence[pd.DataFrame],
    tenures: Sequence[pd.Series],
    head: pd.Series | None,
    head_shares: pd.Series | None,
) -> ProfileView | None:
    """The windows' :data:`HEAD_COLUMNS` against ``head``, profiled with their users.

    ``popular_movie`` against ``head`` and its ``head_shares`` at each rating's
    tenure (the users' ratings before the window: ``tenures``, one per window);
    ``known_user_popular_shift`` of each window against its users' shares of
    ``head`` in its history (their latest ratings before it: ``histories``, one
    :func:`~reelops_monitoring.features.latest_ratings` per window). One profile
    of the windows' rows together: the users (``user_id``, and ``user_ratings``
    for their effective number) behind the columns' values. None without a head.
    """
    if head is None or not frames:
        return None
    rows = pd.concat(
        [
            _head_rows(frame, history, tenure, head, head_shares)
            for frame, history, tenure in zip(frames, histories, tenures, strict=True)
        ],
        ignore_index=True,
    )
    return profile_view(rows)


def _head_rows(
    frame: pd.DataFrame,
    history: pd.DataFrame,
    tenure: pd.Series,
    head: pd.Series,
    head_shares: pd.Series | None,
) -> pd.DataFrame:
    """One window's users and :data:`HEAD_COLUMNS` against ``head``."""
    popular, popular_column = popular_movie(
        frame, head, head_shares=head_shares, tenure=tenure
    )
    return frame[["user_id", "user_ratings"]].assign(
        popular_movie=popular_column,
        known_user_popular_shift=popular_shift(
            frame, popular, popular_shares(history, head)
        ),
    )


def false_alarm_rate(table: pd.DataFrame) -> dict[str, float | int]:
    """Alerts among the assessed windows of scenario ``"none"``."""
    control = table[(table["scenario"] == NO_INJECTION) & table["assessed"]]
    alarms = int(control["alert"].sum())
    n = len(control)
    return {
        "windows": n,
        "false_alarms": alarms,
        "rate": alarms / n if n else math.nan,
    }


def detection_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: assessed windows, detections with the right reason, rate."""
    injected = table[(table["scenario"] != NO_INJECTION) & table["assessed"]]
    grouped = injected.groupby("scenario", sort=False)
    summary = pd.DataFrame(
        {
            "windows": grouped.size(),
            "detected": grouped["detected"].sum().astype(int),
            "alerts": grouped["alert"].sum().astype(int),
        }
    )
    summary["rate"] = summary["detected"] / summary["windows"]
    return summary


def degradation_table(
    table: pd.DataFrame, *, limits: Mapping[str, float]
) -> pd.DataFrame:
    """Detection among the injected windows whose shift degraded the model.

    A window's injected case degrades when any metric of ``limits`` (``{"rmse":
    0.01, "ndcg@10": 0.02}``) is worse than on the same window uninjected by at
    least its limit (relative, in the metric's direction:
    :func:`~reelops_monitoring.decay.relative_degradation`). Per scenario with
    any such window, and ``"all"``: ``windows`` (degrading ones), ``detected``
    (with the scenario's reason), ``rate``.
    """
    keys = ["stream", "window_index"]
    assessed = table[table["assessed"]]
    control = assessed[assessed["scenario"] == NO_INJECTION].set_index(keys)
    injected = assessed[assessed["scenario"] != NO_INJECTION]
    aligned = control.reindex(pd.MultiIndex.from_frame(injected[keys]))
    worse = np.zeros(len(injected), dtype=bool)
    for metric, limit in limits.items():
        before = aligned[metric].to_numpy(dtype="float64")
        after = injected[metric].to_numpy(dtype="float64")
        change = np.array(
            [
                relative_degradation(metric, b, a)
                for b, a in zip(before, after, strict=True)
            ]
        )
        worse |= np.nan_to_num(change, nan=-np.inf) >= limit
    degrading = injected[worse]
    groups = [*degrading.groupby("scenario", sort=False), ("all", degrading)]
    summary = pd.DataFrame(
        [
            {
                "scenario": name,
                "windows": len(group),
                "detected": int(group["detected"].astype(bool).sum()),
            }
            for name, group in groups
        ],
        columns=["scenario", "windows", "detected"],
    ).set_index("scenario")
    summary["rate"] = summary["detected"] / summary["windows"].where(
        summary["windows"] > 0
    )
    return summary


def calibrate_thresholds(
    table: pd.DataFrame,
    *,
    possible_quantile: float = 0.90,
    drift_quantile: float = 0.99,
    decimals: int = 2,
) -> dict[str, dict[str, float]]:
    """Thresholds from the scores of no-drift windows (scenario ``"none"``).

    ``possible_drift`` and ``drift`` are the given quantiles of each column's
    scores, rounded up to ``decimals``.
    """
    control = table[(table["scenario"] == NO_INJECTION) & table["assessed"]]
    thresholds = {}
    for column in [c for c in control.columns if c.startswith("score_")]:
        scores = control[column].astype("float64").replace(np.inf, np.nan).dropna()
        if scores.empty:
            continue
        thresholds[column.removeprefix("score_")] = {
            "possible_drift": _ceil(
                float(scores.quantile(possible_quantile)), decimals
            ),
            "drift": _ceil(float(scores.quantile(drift_quantile)), decimals),
        }
    return thresholds


def directed_score(column: dict[str, Any] | None, direction: str = "both") -> float:
    """A column's drift score (``ColumnDrift.to_dict()``) as calibration sees it.

    No score: NaN (infinite when the column is DRIFT anyway, e.g. a category the
    reference never had). A column that drifts only on an ``increase`` (a
    ``decrease``) scores 0 when its mean did not go up (down): such a window can
    never alarm on it.
    """
    if column is None or column["score"] is None:
        return (
            math.inf
            if column is not None and column["category"] == "DRIFT"
            else math.nan
        )
    means = (column.get("mean_target"), column.get("mean_reference"))
    if not moved(means, direction):
        return 0.0
    return float(column["score"])


def _ceil(value: float, decimals: int) -> float:
    factor = 10**decimals
    return math.ceil(value * factor) / factor
