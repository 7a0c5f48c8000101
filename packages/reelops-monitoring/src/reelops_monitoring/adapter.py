"""The whylogs boundary: the only module of reelops that imports whylogs.

whylogs 1.6 is loaded lazily, on the first call that needs it, by :func:`_whylogs`,
which first

* sets ``WHYLOGS_NO_ANALYTICS`` (whylogs reads it when it is imported; no usage
  statistics are ever sent),
* restores ``numpy.unicode_`` as an alias of ``numpy.str_``: whylogs 1.6.4 still
  calls ``np.unicode_``, removed in NumPy 2, whenever it types a string, object or
  datetime column.

Importing this module costs nothing (importing whylogs takes seconds, and Kedro
imports the project's datasets on every command). Profiles are built with
``DatasetProfile.track``, not ``why.log``: ``why.log`` consults the global WhyLabs
session (``why.init``) and may upload from there; ``track`` has no such path, so
nothing here can upload anything. Segments are not used (broken under pandas 3).

Everything returned is either a whylogs ``DatasetProfileView`` (typed here as
:data:`ProfileView`) or plain Python / pandas data, so no other module needs
whylogs.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from reelops_monitoring.errors import (
    InvalidInputError,
    MissingColumnError,
    ProfileError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    #: A whylogs ``DatasetProfileView``.
    from whylogs.core.view.dataset_profile_view import (
        DatasetProfileView as ProfileView,
    )
else:
    # At run time the name stands for any object, so that annotations using it
    # resolve (Kedro reads node type hints) without importing whylogs.
    ProfileView = object

__all__ = [
    "ConstraintOutcome",
    "DriftAlgorithm",
    "DriftStatistic",
    "Histogram",
    "ProfileView",
    "check_constraints",
    "column_mean",
    "column_names",
    "column_sums",
    "deserialize_view",
    "distinct_count",
    "drift_statistic",
    "frequent_items",
    "merge_views",
    "profile_frame",
    "profile_view",
    "replace_columns",
    "row_count",
    "serialize_view",
    "summarize_view",
    "value_count",
    "value_histogram",
    "value_quantiles",
]

#: The whylogs column drift algorithms this adapter exposes.
DriftAlgorithm = Literal["ks", "chi_square", "hellinger", "mean", "weighted_mean"]

_SUMMARY_QUANTILES = {"q25": "distribution/q_25", "q75": "distribution/q_75"}


@functools.cache
def _whylogs() -> SimpleNamespace:
    """Import whylogs once, behind the NumPy 2 shim and with analytics off."""
    os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
    if not hasattr(np, "unicode_"):
        np.unicode_ = np.str_  # type: ignore[attr-defined]
    from whylogs.core import DatasetProfile, DatasetProfileView
    from whylogs.core.constraints import ConstraintsBuilder
    from whylogs.core.constraints.factories import is_in_range, no_missing_values
    from whylogs.viz.drift.column_drift_algorithms import KS, ChiSquare, Hellinger

    return SimpleNamespace(
        DatasetProfile=DatasetProfile,
        DatasetProfileView=DatasetProfileView,
        ConstraintsBuilder=ConstraintsBuilder,
        is_in_range=is_in_range,
        no_missing_values=no_missing_values,
        algorithms={"ks": KS, "chi_square": ChiSquare, "hellinger": Hellinger},
    )


# ------------------------------------------------------------------ profiles


def profile_view(
    frame: pd.DataFrame, *, dataset_timestamp: datetime | None = None
) -> ProfileView:
    """Profile ``frame`` (every column) into a whylogs profile view.

    Args:
        frame: Any DataFrame; string, boolean, numeric and datetime columns work.
        dataset_timestamp: The time the data belongs to (e.g. the start of its
            window); timezone-naive values are taken as UTC. Defaults to now.

    Returns:
        The profile view (mergeable, serializable, read-only).

    Raises:
        ProfileError: If ``frame`` is not a DataFrame or whylogs cannot profile it.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ProfileError(
            f"profile_view needs a pandas DataFrame, got {type(frame).__name__} instead"
        )
    why = _whylogs()
    profile = why.DatasetProfile(dataset_timestamp=_utc(dataset_timestamp))
    try:
        profile.track(pandas=frame)
    except Exception as exc:
        raise ProfileError(
            f"whylogs cannot profile a frame with columns {list(frame.columns)}: {exc}"
        ) from exc
    return profile.view()


def profile_frame(
    frame: pd.DataFrame, *, dataset_timestamp: datetime | None = None
) -> bytes:
    """Profile ``frame`` and return the serialized view (for a ``.bin`` file).

    The serving request profiler calls this off the request path with a batch of
    request features; :func:`deserialize_view` reads it back.
    """
    return serialize_view(profile_view(frame, dataset_timestamp=dataset_timestamp))


def merge_views(views: Iterable[ProfileView]) -> ProfileView:
    """Merge profile views (counts add up, sketches combine).

    Raises:
        ProfileError: If ``views`` is empty.
    """
    merged = None
    for view in views:
        merged = view if merged is None else merged.merge(view)
    if merged is None:
        raise ProfileError("merge_views needs at least one profile view, got none")
    return merged


def replace_columns(
    view: ProfileView, source: ProfileView, names: Iterable[str]
) -> ProfileView:
    """``view`` with the columns ``names`` taken from ``source`` (as profiled there).

    Raises:
        ProfileError: If ``source`` has no such column.
    """
    columns = dict(view.get_columns())
    for name in names:
        column = source.get_column(name)
        if column is None:
            raise ProfileError(
                f"replace_columns: the source profile has no column {name!r}; "
                f"it has {sorted(source.get_columns())}"
            )
        columns[name] = column
    return _whylogs().DatasetProfileView(
        columns=columns,
        dataset_timestamp=view.dataset_timestamp,
        creation_timestamp=view.creation_timestamp,
    )


def serialize_view(view: ProfileView) -> bytes:
    """The view as bytes (whylogs' protobuf format), no I/O."""
    return bytes(view.serialize())


def deserialize_view(data: bytes) -> ProfileView:
    """Read a view written by :func:`serialize_view`.

    Raises:
        ProfileError: If ``data`` is not a serialized whylogs profile.
    """
    why = _whylogs()
    try:
        return why.DatasetProfileView.deserialize(data)
    except Exception as exc:
        raise ProfileError(
            f"cannot deserialize a whylogs profile from {len(data)} bytes: {exc}"
        ) from exc


def row_count(view: ProfileView) -> int:
    """Rows profiled into ``view`` (the largest ``counts/n`` of its columns)."""
    counts = [
        int(column.get_metric("counts").n.value)
        for column in view.get_columns().values()
        if column.get_metric("counts") is not None
    ]
    return max(counts, default=0)


def distinct_count(view: ProfileView, column: str) -> float:
    """Estimated number of distinct values of ``column`` (HyperLogLog sketch).

    Raises:
        MissingColumnError: If ``view`` has no such column or it has no sketch.
    """
    metric = _column(view, column).get_metric("cardinality")
    if metric is None:
        raise MissingColumnError(f"column '{column}' has no cardinality metric")
    return float(metric.hll.value.get_estimate())


def column_names(view: ProfileView) -> frozenset[str]:
    """The columns profiled into ``view``."""
    return frozenset(view.get_columns())


def column_mean(view: ProfileView, column: str) -> float:
    """Mean of a numeric column's values (NaN when it has none).

    Raises:
        MissingColumnError: If ``view`` has no such column.
    """
    metric = _column(view, column).get_metric("distribution")
    if metric is None or metric.n == 0:
        return math.nan
    return float(metric.mean.value)


def summarize_view(view: ProfileView) -> pd.DataFrame:
    """A plain summary: one row per column, for reports.

    Columns: ``count``, ``null_count``, ``null_share``, ``mean``, ``stddev``,
    ``min``, ``q25``, ``median``, ``q75``, ``max``, ``distinct_estimate`` and
    ``top_items`` (up to five ``value: count`` pairs, most frequent first).
    Statistics a column has no metric for are ``NaN`` (``top_items`` is ``""``).
    """
    raw = view.to_pandas()
    rows = {}
    for column in raw.index:
        get = functools.partial(_get, raw.loc[column])
        count = int(get("counts/n", 0))
        nulls = int(get("counts/null", 0))
        rows[column] = {
            "count": count,
            "null_count": nulls,
            "null_share": nulls / count if count else math.nan,
            "mean": _nan_if_empty(get, "distribution/mean"),
            "stddev": _nan_if_empty(get, "distribution/stddev"),
            "min": _nan_if_empty(get, "distribution/min"),
            "q25": _nan_if_empty(get, _SUMMARY_QUANTILES["q25"]),
            "median": _nan_if_empty(get, "distribution/median"),
            "q75": _nan_if_empty(get, _SUMMARY_QUANTILES["q75"]),
            "max": _nan_if_empty(get, "distribution/max"),
            "distinct_estimate": float(get("cardinality/est", math.nan)),
            "top_items": _top_items(get("frequent_items/frequent_strings", None)),
        }
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "column"
    return summary.sort_index()


def frequent_items(view: ProfileView, column: str) -> dict[str, int]:
    """``{value: estimated count}`` of a column's frequent-items sketch.

    Raises:
        MissingColumnError: If ``view`` has no such column or it has no sketch.
    """
    metric = _column(view, column).get_metric("frequent_items")
    if metric is None:
        raise MissingColumnError(
            f"column '{column}' has no frequent-items metric (is it numeric?)"
        )
    return {
        item.value: int(item.est)
        for item in metric.to_summary_dict()["frequent_strings"]
    }


# ------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Histogram:
    """Shares of a numeric column's values between split points (KLL sketch).

    ``shares[0]`` is below ``split_points[0]``, ``shares[i]`` in
    ``[split_points[i-1], split_points[i])`` and ``shares[-1]`` at or above
    ``split_points[-1]``; they sum to 1, or are all 0 when ``n`` is 0.
    """

    split_points: tuple[float, ...]
    shares: tuple[float, ...]
    n: int


def column_sums(view: ProfileView, column: str) -> tuple[float, float, float]:
    """``(n, sum x, sum x^2)`` of a numeric column's values (from mean and ``m2``).

    Zeros when the column has no values.

    Raises:
        MissingColumnError: If ``view`` has no such column.
    """
    n, mean, m2 = _moments(_column(view, column))
    return n, n * mean, m2 + n * mean * mean


def _moments(column_view: Any) -> tuple[float, float, float]:
    """``(n, mean, m2)`` of a column's distribution metric (zeros when empty)."""
    metric = column_view.get_metric("distribution")
    if metric is None or metric.n == 0:
        return 0.0, 0.0, 0.0
    return float(metric.n), float(metric.mean.value), float(metric.m2.value)


def value_count(view: ProfileView, column: str) -> int:
    """Non-null values of ``column`` (``counts/n - counts/null``).

    Raises:
        MissingColumnError: If ``view`` has no such column.
    """
    counts = _column(view, column).get_metric("counts")
    return int(counts.n.value) - int(counts.null.value)


def value_quantiles(
    view: ProfileView, column: str, ranks: Sequence[float]
) -> tuple[float, ...]:
    """``column``'s quantiles at ``ranks`` (in [0, 1]) from its KLL sketch.

    Returns:
        One value per rank; empty when the column holds no numeric value.

    Raises:
        MissingColumnError: If ``view`` has no such column.
        InvalidInputError: If a rank is outside [0, 1].
    """
    if any(not 0.0 <= rank <= 1.0 for rank in ranks):
        raise InvalidInputError(f"ranks must be within [0, 1], got {list(ranks)}")
    sketch = _kll(view, column)
    if sketch is None or sketch.is_empty():
        return ()
    return tuple(float(q) for q in sketch.get_quantiles(list(ranks)))


def value_histogram(
    view: ProfileView, column: str, split_points: Sequence[float]
) -> Histogram:
    """The shares of ``column``'s values between ``split_points`` (KLL sketch).

    Raises:
        MissingColumnError: If ``view`` has no such column.
        InvalidInputError: If ``split_points`` are not strictly increasing.
    """
    points = tuple(float(p) for p in split_points)
    if any(b <= a for a, b in itertools.pairwise(points)):
        raise InvalidInputError(
            f"split points must be strictly increasing, got {list(points)}"
        )
    sketch = _kll(view, column)
    if sketch is None or sketch.is_empty():
        return Histogram(points, (0.0,) * (len(points) + 1), 0)
    shares = sketch.get_pmf(list(points)) if points else [1.0]
    return Histogram(points, tuple(float(s) for s in shares), int(sketch.get_n()))


# --------------------------------------------------------------------- drift


@dataclass(frozen=True)
class DriftStatistic:
    """One whylogs column drift algorithm's raw output.

    ``statistic`` is the KS statistic D, the chi-square statistic, the Hellinger
    distance or, for ``mean`` (not a whylogs algorithm: from the profiles' means
    and ``m2``), Cohen's d, the difference of the means in pooled standard
    deviations; ``pvalue`` is ``None`` for Hellinger. ``n_target`` / ``n_reference``
    are the non-null values the sketches hold (all rows for chi-square, as whylogs
    uses them).
    """

    algorithm: DriftAlgorithm
    statistic: float
    pvalue: float | None
    n_target: int
    n_reference: int


def drift_statistic(
    target: ProfileView,
    reference: ProfileView,
    column: str,
    algorithm: DriftAlgorithm,
) -> DriftStatistic | None:
    """Run one whylogs drift algorithm on ``column`` of two views.

    whylogs' own default thresholds are not used: the caller categorizes.

    Returns:
        The statistic, or ``None`` when the column has no data the algorithm can
        use (e.g. every value null, or a string column given to ``ks``).

    Raises:
        MissingColumnError: If either view lacks ``column``.
        InvalidInputError: If ``algorithm`` is unknown.
    """
    why = _whylogs()
    if algorithm not in why.algorithms and algorithm != "mean":
        raise InvalidInputError(
            f"drift algorithm must be one of {sorted([*why.algorithms, 'mean'])}, "
            f"got '{algorithm}' instead"
        )
    target_column = _column(target, column)
    reference_column = _column(reference, column)
    if algorithm == "mean":
        return _mean_difference(target_column, reference_column)
    n_target = _sample_size(target_column, algorithm)
    n_reference = _sample_size(reference_column, algorithm)
    if n_target == 0 or n_reference == 0:
        return None
    score = why.algorithms[algorithm]().calculate(
        target_column_view=target_column,
        reference_column_view=reference_column,
        with_thresholds=False,
    )
    if score is None or score.statistic is None:
        return None
    return DriftStatistic(
        algorithm=algorithm,
        statistic=float(score.statistic),
        pvalue=None if score.pvalue is None else float(score.pvalue),
        n_target=n_target,
        n_reference=n_reference,
    )


# --------------------------------------------------------------- constraints


@dataclass(frozen=True)
class ConstraintOutcome:
    """One whylogs constraint checked against a profile."""

    name: str
    column: str
    passed: bool


def check_constraints(
    view: ProfileView,
    *,
    not_null: Sequence[str] = (),
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> list[ConstraintOutcome]:
    """Check data-quality constraints with whylogs' constraints builder.

    Args:
        view: The profile to check.
        not_null: Columns that must have no missing value (``no_missing_values``).
        ranges: ``{column: (lower, upper)}``: every value within, inclusive
            (``is_in_range``).

    Returns:
        One outcome per constraint, in the order given (``not_null`` first). A
        constraint on a column the profile lacks fails.
    """
    why = _whylogs()
    present = set(view.get_columns())
    builder = why.ConstraintsBuilder(dataset_profile_view=view)
    wanted: list[tuple[str, str]] = []
    for column in not_null:
        constraint = why.no_missing_values(column_name=column)
        wanted.append((constraint.name, column))
        if column in present:
            builder.add_constraint(constraint)
    for column, (lower, upper) in (ranges or {}).items():
        constraint = why.is_in_range(
            column_name=column, lower=lower, upper=upper, skip_missing=False
        )
        wanted.append((constraint.name, column))
        if column in present:
            builder.add_constraint(constraint)
    passed = {
        result.name: bool(result.passed) and not result.failed
        for result in builder.build().generate_constraints_report()
    }
    return [
        ConstraintOutcome(name=name, column=column, passed=passed.get(name, False))
        for name, column in wanted
    ]


# ------------------------------------------------------------------- helpers


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert("UTC").to_pydatetime()


def _column(view: ProfileView, column: str) -> Any:
    found = view.get_column(column)
    if found is None:
        raise MissingColumnError(
            f"profile has no column '{column}'; it has {sorted(view.get_columns())}"
        )
    return found


def _kll(view: ProfileView, column: str) -> Any:
    distribution = _column(view, column).get_metric("distribution")
    return None if distribution is None else distribution.kll.value


def _mean_difference(target: Any, reference: Any) -> DriftStatistic | None:
    """Cohen's d of two numeric columns, and its two-sided normal p-value."""
    (n_t, mean_t, m2_t), (n_r, mean_r, m2_r) = _moments(target), _moments(reference)
    if n_t < 2 or n_r < 2:  # noqa: PLR2004 (a variance needs 2 values)
        return None
    pooled = math.sqrt((m2_t + m2_r) / (n_t + n_r - 2))
    if pooled == 0:
        return None
    d = abs(mean_t - mean_r) / pooled
    z = d * math.sqrt(n_t * n_r / (n_t + n_r))
    return DriftStatistic(
        algorithm="mean",
        statistic=d,
        pvalue=math.erfc(z / math.sqrt(2)),
        n_target=int(n_t),
        n_reference=int(n_r),
    )


def _sample_size(column_view: Any, algorithm: DriftAlgorithm) -> int:
    if algorithm == "chi_square":
        return int(column_view.get_metric("counts").n.value)
    distribution = column_view.get_metric("distribution")
    return 0 if distribution is None else int(distribution.kll.value.get_n())


def _get(row: pd.Series, key: str, default: Any) -> Any:
    value = row.get(key, default)
    return default if value is None else value


def _nan_if_empty(get: Any, key: str) -> float:
    if float(get("distribution/n", 0) or 0) == 0:
        return math.nan
    return float(get(key, math.nan))


def _top_items(items: Any, limit: int = 5) -> str:
    if not isinstance(items, list):
        return ""
    return ", ".join(f"{item.value}: {int(item.est)}" for item in items[:limit])
