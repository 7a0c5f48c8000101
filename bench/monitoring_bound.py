"""How detectable are the suite's shifts at all? Ceilings for issue 16's goals.

Issue 16 asks for every injected shift that makes the deployed model's RMSE 1 %
worse to be detected, at no more than 5 % false alarms, in windows of 200, 1,000
and 5,000 ratings. This bench asks what a detector that is *told* the shift could
reach on the same windows as ``bench/monitoring.py``'s suite by window size (the
evaluation users' shuffled streams, each window served by a BiasBaseline fitted on
every rating before it, the calibration users' ratings before 2008 included).

* **+0.5-star inflation** (every user of the window, clipped at 5). The oracle
  knows that every user's ratings moved up together, and the null model of the
  residuals against the deployed model: a user's mean residual ``d_u`` over
  ``m_u`` ratings is ``mu + b_u + e``, ``b_u`` a user offset of variance
  ``tau^2`` (known and new users apart: the model has learnt known users' biases),
  ``e`` the rating noise of variance ``sigma^2 / m_u``. Under that Gaussian
  random-effects model the most powerful test of a shared shift (Neyman-Pearson)
  is the precision-weighted sum ``sum (d_u - mu) / v_u / sqrt(sum 1 / v_u)``,
  ``v_u = tau^2 + sigma^2 / m_u``. The variance components are measured on the
  windows themselves (the oracle is told them), and its thresholds are the
  quantiles of its statistic on the same windows uninjected (the 99.5th, where
  the suite's thresholds are calibrated, and the 95th, the goal's 5 %). A test
  that used the ratings' shape too (no 0.5 left, more 5s) could do somewhat
  better than this model allows; nothing here bounds that.
* **Whole stars** (every half star rounded up). The oracle's statistic is the
  window's share of half-star ratings: injected, it is 0; the null column says
  how often a window has so few.

Issue 17 asks the other side: unchanged real traffic judged ``retrain: false`` in
95 % of windows. **Served quarters** measures what limits both at once on real
traffic: the real quarters of ml-latest-small (three quarter calendars, as
``bench/monitoring_traffic.py`` cuts them), each served by a deployment kept for
``KEEP`` windows (trained on every rating before its first; the rater screen's
quarantine left out). For every window after a deployment's first, the shift of
the known users' mean residual (each user's mean residual, users counted once)
from the deployment's earlier windows, as ``known_user_mean_residual`` compares
them; also paired (only the users in both, each against their own earlier mean
residual) and against each user's own latest training residuals (in-sample):
if the shift were the mix of users, or each user's own offset, re-referencing
would narrow it. A test of the raw shift *told* its null distribution on these
very windows (two-sided: the ``|shift|`` quantiles) finds +0.5 stars for every
user (clipped at 5) where the inflated window's shift passes them: what a
column of this statistic could reach at the false alarms the thresholds allow
each column, on real traffic rather than the suite's shuffled timelines. The
same for the precision-weighted shift (:func:`weighted_shifts`): each user's
mean residual weighs ``1 / (tau^2 + sigma^2 / m)``, the components measured on
these windows' known users, and the shift is in standard errors. Counting
users once gives a user of one rating (its mean's sd ``sigma``, 0.8 star) as
much say as one of a hundred; counting ratings (the rating-level columns) lets
a few heavy raters speak for the window: this weighting lies between. It is
also taken on the suite's windows by size (``precision_weighted_two_sample``:
each window's known users against those of the windows it is judged against),
to see whether a threshold set on shuffled windows holds on real traffic.

Each is reported on every window and on those where the shift makes the model's
RMSE at least 1 % worse (the goal's "degrading" windows, as ``monitoring.json``
counts them). This is a ceiling for a detector that knows the scenario; a
monitoring system does not, and must hold its false alarms on every column at
once.

Usage::

    .venv/bin/python bench/monitoring_bound.py --out reports/bench/monitoring_bound.json
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
from _common import (
    cohort,
    load_ratings_and_movies,
    machine_info,
    ml_small_dir,
    write_json,
)
from monitoring import (
    DEGRADING,
    DRIFT_QUANTILE,
    EVALUATION_END,
    EVALUATION_SEEDS,
    RATING_COLUMNS,
    SIZE_EXTRA_SEEDS,
    SIZE_MIN_WINDOWS,
    SIZE_REFERENCE_ROWS,
    SPLIT,
    WINDOW_SIZES,
    deployed_on,
    shuffled_stream,
)
from monitoring_traffic import COLUMNS, KEEP, MIN_HISTORY, QUARTER_CALENDARS

from recsys import BiasBaseline
from reelops_monitoring import MonitoringConfig
from reelops_monitoring.features import precision_weight
from reelops_monitoring.raters import screen_raters
from reelops_monitoring.scenarios import inflate_ratings, whole_stars
from reelops_monitoring.windows import split_rows, split_windows

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The false-alarm rates the oracles are held to: where the suite's DRIFT
#: thresholds sit, and the goal's limit.
ALPHAS = (round(1 - DRIFT_QUANTILE, 4), 0.05)
#: The latest training ratings of a user whose in-sample residuals are their own
#: level (as ``known_user_popular_shift`` takes their latest 10 ratings' habit).
LATEST_RATINGS = 10
#: A shift of this many stars or more counts as a large move.
LARGE_SHIFT = 0.4
#: Users on each side for a window's shift (``drift.min_users``).
MIN_USERS = 5
#: A window's known users: their mean residuals, or their ``user_residuals``.
_T = TypeVar("_T", pd.Series, pd.DataFrame)
#: How the suite's replay seeds its injections (``replay(seed=stream * 1000)``,
#: window ``i`` then ``seed + i``): the same users are inflated here.
SEED_STRIDE = 1000


def user_residuals(
    ratings: pd.DataFrame, predictions: np.ndarray, known: set[int]
) -> pd.DataFrame:
    """One row per user of ``ratings``: ``m`` ratings, ``d`` their mean residual
    against ``predictions``, ``ss`` the residuals' squares about ``d``, ``halves``
    their half-star ratings, and whether the model ``known`` them."""
    rating = ratings["rating"].to_numpy(dtype="float64")
    residual = rating - predictions
    frame = pd.DataFrame(
        {
            "user_id": ratings["user_id"].to_numpy(),
            "residual": residual,
            "square": residual * residual,
            "half": (rating % 1) != 0,
        }
    )
    users = frame.groupby("user_id").agg(
        m=("residual", "size"),
        d=("residual", "mean"),
        square=("square", "sum"),
        halves=("half", "sum"),
    )
    users["ss"] = (users["square"] - users["m"] * users["d"] ** 2).clip(lower=0.0)
    users["known"] = users.index.isin(known)
    return users.drop(columns="square")


def variance_components(users: pd.DataFrame) -> dict[str, Any]:
    """``sigma2`` (pooled within-user variance) and, for known and new users
    apart, the mean ``mu`` and the between-user variance ``tau2`` of ``d``
    (moments: ``E (d - mu)^2 = tau2 + sigma2 / m``, clipped at 0); a group
    without users is left out."""
    freedom = float((users["m"] - 1).clip(lower=0).sum())
    sigma2 = float(users["ss"].sum()) / freedom
    parts = {}
    for name, known in (("known", True), ("new", False)):
        group = users[users["known"] == known]
        if group.empty:
            continue
        mu = float(np.average(group["d"], weights=group["m"]))
        tau2 = float(np.mean((group["d"] - mu) ** 2 - sigma2 / group["m"]))
        parts[name] = {"mu": mu, "tau2": max(tau2, 0.0), "users": len(group)}
    return {"sigma2": sigma2, **parts}


def shift_statistic(users: pd.DataFrame, components: dict[str, Any]) -> float:
    """The Neyman-Pearson statistic of a shift shared by every user: N(0, 1)
    under the null model, ``delta * sqrt(sum 1 / v_u)`` higher when shifted."""
    known = users["known"].to_numpy()
    mu = np.where(known, components["known"]["mu"], components["new"]["mu"])
    tau2 = np.where(known, components["known"]["tau2"], components["new"]["tau2"])
    v = tau2 + components["sigma2"] / users["m"].to_numpy(dtype="float64")
    return float(((users["d"].to_numpy() - mu) / v).sum() / np.sqrt((1 / v).sum()))


def power_at(
    null: np.ndarray,
    shifted: np.ndarray,
    alpha: float,
    *,
    lower: bool = False,
    among: np.ndarray | None = None,
) -> dict[str, Any]:
    """The share of ``shifted`` beyond the null's ``1 - alpha`` quantile (its
    ``alpha`` quantile when ``lower``), over all windows and ``among`` a subset."""
    threshold = float(np.quantile(null, alpha if lower else 1 - alpha))
    beyond = shifted <= threshold if lower else shifted > threshold
    found: dict[str, Any] = {
        "alpha": alpha,
        "threshold": round(threshold, 4),
        "false_alarms": int((null <= threshold if lower else null > threshold).sum()),
        "power": round(float(beyond.mean()), 4),
    }
    if among is not None:
        found["degrading_windows"] = int(among.sum())
        found["power_degrading"] = (
            round(float(beyond[among].mean()), 4) if among.any() else None
        )
    return found


def suite_windows(ratings: pd.DataFrame, rows: int) -> list[dict[str, Any]]:
    """The suite's windows of ``rows`` ratings, each with its users uninjected,
    inflated and rounded to whole stars, the model's RMSE on each, and the users
    of the windows it is judged against (``reference_users``, uninjected, each
    window's residuals against the model that served it)."""
    late = cohort(ratings, early=False)
    prior = deployed_on(ratings)
    n_reference = max(2, -(-SIZE_REFERENCE_ROWS // rows))
    found: list[dict[str, Any]] = []
    for seed in EVALUATION_SEEDS + SIZE_EXTRA_SEEDS:
        if len(found) >= SIZE_MIN_WINDOWS:
            break
        stream = shuffled_stream(late, seed, SPLIT, EVALUATION_END)
        served: list[pd.DataFrame] = []
        for index, window in enumerate(split_rows(stream, rows=rows)):
            frame = window.ratings
            history = pd.concat(
                [prior, stream[stream["timestamp"] < frame["timestamp"].min()]]
            )
            model = BiasBaseline().fit(
                history[RATING_COLUMNS], history["rating"].to_numpy()
            )
            predictions = np.asarray(model.predict(frame[RATING_COLUMNS]), float)
            known = set(history["user_id"].tolist())
            if index < n_reference:
                served.append(user_residuals(frame, predictions, known))
                continue
            injection = seed * SEED_STRIDE + index
            record: dict[str, Any] = {
                "stream": seed,
                "window_index": index,
                "reference_users": pd.concat(served[-n_reference:]),
            }
            for case, ratings_case in (
                ("none", frame),
                ("inflation", inflate_ratings(frame, share=1.0, seed=injection)),
                ("whole_stars", whole_stars(frame, share=1.0, seed=injection)),
            ):
                rating = ratings_case["rating"].to_numpy(dtype="float64")
                record[f"rmse_{case}"] = float(
                    np.sqrt(np.mean((rating - predictions) ** 2))
                )
                record[f"users_{case}"] = user_residuals(
                    ratings_case, predictions, known
                )
            served.append(record["users_none"])
            found.append(record)
    return found


def bounds(windows: list[dict[str, Any]], rows: int) -> dict[str, Any]:
    """Both oracles' power at each of ``ALPHAS`` on ``windows``."""
    null_users = pd.concat([w["users_none"] for w in windows])
    components = variance_components(null_users)
    limit = 1 + DEGRADING["rmse"]
    result: dict[str, Any] = {
        "windows": len(windows),
        "users_per_window": round(len(null_users) / len(windows), 2),
        "known_users_per_window": round(
            float(null_users["known"].sum()) / len(windows), 2
        ),
        "variance_components": {
            "sigma": round(float(np.sqrt(components["sigma2"])), 4),
            **{
                name: {
                    "mu": round(components[name]["mu"], 4),
                    "tau": round(float(np.sqrt(components[name]["tau2"])), 4),
                    "users": components[name]["users"],
                }
                for name in ("known", "new")
            },
        },
    }
    null = np.array([shift_statistic(w["users_none"], components) for w in windows])
    inflated = np.array(
        [shift_statistic(w["users_inflation"], components) for w in windows]
    )
    degrading = np.array(
        [w["rmse_inflation"] >= limit * w["rmse_none"] for w in windows]
    )
    result["rating_inflation"] = [
        power_at(null, inflated, alpha, among=degrading) for alpha in ALPHAS
    ]
    result["precision_weighted_two_sample"] = _two_sample(windows, components)
    share = np.array([w["users_none"]["halves"].sum() / rows for w in windows])
    whole = np.array([w["users_whole_stars"]["halves"].sum() / rows for w in windows])
    degrading = np.array(
        [w["rmse_whole_stars"] >= limit * w["rmse_none"] for w in windows]
    )
    result["whole_stars"] = {
        "null_half_star_share": {
            "min": round(float(share.min()), 4),
            "median": round(float(np.median(share)), 4),
            "windows_without_half_stars": int((share == 0).sum()),
        },
        "oracle": [
            power_at(share, whole, alpha, lower=True, among=degrading)
            for alpha in ALPHAS
        ],
    }
    return result


def _later_windows(served: list[tuple[_T, _T]]) -> Iterator[tuple[_T, _T, _T]]:
    """``(window, inflated, earlier windows)`` for each window after the first
    with ``MIN_USERS`` known users or more, against as many earlier ones."""
    for index in range(1, len(served)):
        now, up = served[index]
        earlier = pd.concat([frame for frame, _ in served[:index]])
        if len(now) >= MIN_USERS and len(earlier) >= MIN_USERS:
            yield now, up, earlier


def _two_sample(
    windows: list[dict[str, Any]], components: dict[str, Any]
) -> dict[str, Any]:
    """The served quarters' precision-weighted shift on the suite's windows:
    known users against the known users of the windows each is judged against
    (``MIN_USERS`` on each side), for +0.5 stars at each of ``ALPHAS``."""
    shifts = []
    for window in windows:
        known = [
            frame[frame["known"]]
            for frame in (
                window["users_none"],
                window["users_inflation"],
                window["reference_users"],
            )
        ]
        if len(known[0]) >= MIN_USERS and len(known[2]) >= MIN_USERS:
            shifts.append(weighted_shift(*known, components))
    found = np.array(shifts)
    return {
        "windows": len(found),
        "null_z_sd": round(float(found[:, 0].std()), 4),
        "rating_inflation": [
            power_at(np.abs(found[:, 0]), found[:, 1], alpha) for alpha in ALPHAS
        ],
    }


def deployment_shifts(
    served: list[tuple[pd.Series, pd.Series]], latest: pd.Series
) -> list[dict[str, float]]:
    """The shifts of one deployment's windows after its first.

    ``served``: per window in time order, the known users' mean residuals
    (indexed by user) as served and inflated; ``latest``: each user's mean
    in-sample residual over their latest training ratings. Each window of
    ``MIN_USERS`` known users or more, against ``MIN_USERS`` or more in the
    earlier windows, gives ``raw`` (the users' mean less the earlier windows'),
    ``paired`` (the users in both, each against their own earlier mean; NaN
    without one), ``own_latest`` (as raw, each user's residuals less their
    ``latest``), ``inflated`` (raw with the window inflated) and ``both`` (the
    users in both).
    """
    shifts = []
    for now, up, earlier in _later_windows(served):
        before = earlier.groupby(level=0).mean()
        both = now.index.intersection(before.index)
        own_now = now - latest.reindex(now.index)
        own_earlier = earlier - latest.reindex(earlier.index)
        shifts.append(
            {
                "raw": float(now.mean() - earlier.mean()),
                "paired": float((now[both] - before[both]).mean())
                if len(both)
                else math.nan,
                "own_latest": float(own_now.mean() - own_earlier.mean()),
                "inflated": float(up.mean() - earlier.mean()),
                "both": float(len(both)),
            }
        )
    return shifts


def weighted_shifts(
    served: list[tuple[pd.DataFrame, pd.DataFrame]], components: dict[str, Any]
) -> list[tuple[float, float]]:
    """The precision-weighted shift of one deployment's windows after its first.

    ``served``: per window in time order, the known users' :func:`user_residuals`
    as served and inflated. Each user-window weighs ``1 / v``,
    ``v = tau2 + sigma2 / m`` (``components``' known users); the shift is the
    window's weighted mean residual less the earlier windows', in standard
    errors ``sqrt(1 / W_window + 1 / W_earlier)``: the most powerful test of a
    shift every user shares under that model, if windows did not move. Returns
    ``(served, inflated)`` per window with the ``MIN_USERS`` rule of
    :func:`deployment_shifts`.
    """
    found = []
    for now, up, earlier in _later_windows(served):
        found.append(weighted_shift(now, up, earlier, components))
    return found


def weighted_shift(
    window: pd.DataFrame,
    inflated: pd.DataFrame,
    earlier: pd.DataFrame,
    components: dict[str, Any],
) -> tuple[float, float]:
    """``(served, inflated)``: the shift of :func:`weighted_shifts` for one window."""
    sigma = math.sqrt(components["sigma2"])
    tau = math.sqrt(components["known"]["tau2"])

    def weighted(frame: pd.DataFrame) -> tuple[float, float]:
        weights = precision_weight(frame["m"], sigma=sigma, tau=tau)
        total = float(weights.sum())
        return float((weights * frame["d"].to_numpy()).sum()) / total, total

    (mean_now, weight_now), (mean_up, _) = weighted(window), weighted(inflated)
    mean_earlier, weight_earlier = weighted(earlier)
    error = math.sqrt(1 / weight_now + 1 / weight_earlier)
    return (mean_now - mean_earlier) / error, (mean_up - mean_earlier) / error


def served_quarters(ratings: pd.DataFrame) -> dict[str, Any]:
    """Issue 17's limit: the known users' mean-residual shift on real quarters.

    See the module docstring (**Served quarters**). Returns the windows, the
    shifts' spread (raw, paired, against each user's latest training
    residuals), the share of windows moving ``LARGE_SHIFT`` stars or more and the
    oracle's power at each of ``ALPHAS``.
    """
    raters = MonitoringConfig().raters
    rows: list[dict[str, float]] = []
    deployments: list[list[tuple[pd.DataFrame, pd.DataFrame]]] = []
    for calendar in QUARTER_CALENDARS:
        windows = [w.ratings for w in split_windows(ratings, freq=calendar)]
        first = 0
        while first < len(windows):
            history = ratings[ratings["timestamp"] < windows[first]["timestamp"].min()]
            if len(history) < MIN_HISTORY:
                first += 1
                continue
            model = BiasBaseline().fit(history[COLUMNS], history["rating"].to_numpy())
            trained = history.assign(
                residual=history["rating"].to_numpy()
                - np.asarray(model.predict(history[COLUMNS]), float)
            ).sort_values("timestamp")
            latest = (
                trained.groupby("user_id").tail(LATEST_RATINGS).groupby("user_id")
            )["residual"].mean()
            known = set(history["user_id"].tolist())
            served = []
            for window in windows[first : first + KEEP]:
                kept, _ = screen_raters(window, raters).split(window)
                kept = kept[kept["user_id"].isin(known)]
                predictions = np.asarray(model.predict(kept[COLUMNS]), float)
                inflated = inflate_ratings(kept, share=1.0, seed=0)
                served.append(
                    (
                        user_residuals(kept, predictions, known),
                        user_residuals(inflated, predictions, known),
                    )
                )
            rows.extend(
                deployment_shifts([(f["d"], u["d"]) for f, u in served], latest)
            )
            deployments.append(served)
            first += KEEP
    table = pd.DataFrame(rows)
    raw = table["raw"].abs().to_numpy()
    components = variance_components(
        pd.concat([frame for served in deployments for frame, _ in served])
    )
    weighted = np.array(
        [z for served in deployments for z in weighted_shifts(served, components)]
    )
    return {
        "windows": len(table),
        "known_users_in_both_median": float(table["both"].median()),
        "shift_sd": {
            name: round(float(table[name].std(ddof=0)), 4)
            for name in ("raw", "paired", "own_latest")
        },
        "share_shift_at_least": {
            "stars": LARGE_SHIFT,
            "share": round(float((raw >= LARGE_SHIFT).mean()), 4),
        },
        "rating_inflation": [
            power_at(raw, table["inflated"].to_numpy(), alpha) for alpha in ALPHAS
        ],
        "precision_weighted": {
            "sigma": round(math.sqrt(components["sigma2"]), 4),
            "tau_known": round(math.sqrt(components["known"]["tau2"]), 4),
            "null_z_sd": round(float(weighted[:, 0].std()), 4),
            "rating_inflation": [
                power_at(np.abs(weighted[:, 0]), weighted[:, 1], alpha)
                for alpha in ALPHAS
            ],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    ratings, _ = load_ratings_and_movies(ml_small_dir())
    by_size = {}
    for rows in WINDOW_SIZES:
        by_size[str(rows)] = bounds(suite_windows(ratings, rows), rows)
        print(f"window size {rows}: {by_size[str(rows)]}", flush=True)
    served = served_quarters(ratings)
    print(f"served quarters: {served}", flush=True)
    write_json(
        args.out,
        {
            "benchmark": "monitoring_bound",
            "data": "MovieLens ml-latest-small, users who arrived from 2008 on",
            "protocol": (
                "bench/monitoring.py's suite windows by size (same streams, seeds "
                "and injected users); oracle tests told the scenario; power at the "
                "null's 99.5th and 95th percentiles, on all windows and on those "
                "where the shift makes the model's RMSE >= 1 % worse; and the "
                "known users' mean-residual shift on real quarters served by a "
                "deployment kept for 4, users counted once and precision-weighted "
                "(issue 17's limit)"
            ),
            "machine": machine_info(),
            "by_window_size": by_size,
            "served_quarters": served,
            "total_seconds": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
