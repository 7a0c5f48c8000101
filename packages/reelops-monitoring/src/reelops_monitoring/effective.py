"""Effective sample sizes of ratings clustered by user (the design effect).

A window's ratings come from a few users, each rating many movies; a user's
ratings resemble each other (a generous rater, a horror fan), so ``n`` ratings
carry less information than ``n`` independent draws. With ``m`` ratings per user
on average and an intra-user correlation ``rho`` of the column, the design effect
is ``1 + (m - 1) * rho`` and the effective sample size ``n / (1 + (m - 1) * rho)``:
``n`` for independent ratings (``rho = 0``), the number of users when a user's
ratings are all alike (``rho = 1``).

``rho`` is estimated once, on the training data (:func:`intra_unit_correlation`:
the one-way ANOVA estimator, on the column's values, or on its one-hot indicators
for a categorical column), and applied to every window with the window's own
``m``: a window of many users with a few ratings each counts for nearly its
ratings, one of a handful of heavy raters for little more than its users.

Users rate unequal numbers of movies, and ``m`` is then the size-weighted mean
``sum m_i^2 / sum m_i`` (Kish), not ``n / users``: a window of 1,000 ratings
whose 20 users gave 600, 20, 20, ... counts, when a user's ratings are all
alike, for ``(sum m_i)^2 / sum m_i^2`` = 2.6 users, not 20. A whylogs profile
holds what that needs: the mean and ``m2`` of the user-level column of each
user's ratings in the window (:func:`~reelops_monitoring.adapter.column_sums`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from numpy.typing import ArrayLike

#: Units needed to estimate a correlation between them.
_MIN_UNITS = 2

__all__ = [
    "effective_size",
    "effective_units",
    "intra_unit_correlation",
    "pooled_correlation",
]


def effective_units(sizes: ArrayLike) -> float:
    """Kish's effective number of units, ``(sum m_i)^2 / sum m_i^2``.

    ``sizes`` are the units' rows ``m_i`` (a user's ratings in a window): equal
    sizes count every unit, a window where one of 20 users gave 620 of 1,000
    ratings counts 2.6. 0 for no rows.
    """
    array = np.asarray(sizes, dtype=float)
    squares = float((array * array).sum())
    return float(array.sum()) ** 2 / squares if squares > 0 else 0.0


def intra_unit_correlation(
    frame: pd.DataFrame, column: str, unit_column: str
) -> tuple[float, int]:
    """The intra-unit correlation of ``column``, and the values it rests on.

    The one-way ANOVA estimator ``(MSB - MSW) / (MSB + (m0 - 1) MSW)`` over the
    groups of ``unit_column``, clipped to ``[0, 1]``; a numeric column is used as
    it is, any other as one-hot indicators (between and within sums of squares
    added over the categories). Rows with a null value or unit are left out.

    Returns:
        ``(rho, n)``: NaN when there are fewer than 2 units or no unit has 2 values.
    """
    rows = frame[[unit_column, column]].dropna()
    n = len(rows)
    units, groups = np.unique(rows[unit_column].to_numpy(), return_inverse=True)
    g = len(units)
    if g < _MIN_UNITS or n <= g:
        return math.nan, n
    values = rows[column]
    if pd.api.types.is_numeric_dtype(values):
        matrix = values.to_numpy(dtype="float64")[:, None]
    else:
        matrix = pd.get_dummies(values.astype(str)).to_numpy(dtype="float64")
    sizes = np.bincount(groups).astype("float64")
    sums = np.zeros((g, matrix.shape[1]))
    np.add.at(sums, groups, matrix)
    means = sums / sizes[:, None]
    grand = matrix.mean(axis=0)
    between = float((sizes[:, None] * (means - grand) ** 2).sum())
    within = float((matrix**2).sum() - (sizes[:, None] * means**2).sum())
    msb, msw = between / (g - 1), max(within, 0.0) / (n - g)
    m0 = (n - float((sizes**2).sum()) / n) / (g - 1)
    denominator = msb + (m0 - 1) * msw
    if denominator <= 0:
        return math.nan, n
    return min(max((msb - msw) / denominator, 0.0), 1.0), n


def pooled_correlation(
    frames: Collection[pd.DataFrame], columns: Collection[str], unit_column: str
) -> dict[str, float]:
    """Each column's intra-unit correlation, averaged over ``frames`` by values.

    Every frame (e.g. one calendar window of features) is its own set of groups;
    a column no frame can estimate is left out.
    """
    pooled = {}
    for column in columns:
        estimates = [
            intra_unit_correlation(frame, column, unit_column) for frame in frames
        ]
        usable = [(rho, n) for rho, n in estimates if not math.isnan(rho)]
        total = sum(n for _, n in usable)
        if total:
            pooled[column] = round(sum(rho * n for rho, n in usable) / total, 6)
    return pooled


def effective_size(
    n_values: float,
    n_units: float,
    rho: float,
    *,
    unit_sums: tuple[float, float, float] | None = None,
) -> float:
    """``n / (1 + (m - 1) rho)``, at least ``n / m`` and at most ``n``.

    Args:
        n_values: The column's values.
        n_units: The units (users) they come from.
        rho: The intra-unit correlation; NaN: unknown, taken as 1 (the effective
            size is then also capped at ``n_units``).
        unit_sums: ``(units, sum m_i, sum m_i^2)`` of the units' rows ``m_i``
            (:func:`~reelops_monitoring.adapter.column_sums` of a user-level
            column): ``m`` is then the size-weighted mean
            ``n * sum m_i^2 / (sum m_i)^2`` (the units' rows scaled to the
            column's values); without it, or for a column of at most one value
            per unit (a user-level column), ``m = n / n_units``.
    """
    if n_values <= 0 or n_units <= 0:
        return 0.0
    per_unit = n_values / n_units
    if unit_sums is not None and unit_sums[1] > 0 and n_values > unit_sums[0]:
        per_unit = n_values * unit_sums[2] / unit_sums[1] ** 2
    per_unit = max(per_unit, 1.0)
    if math.isnan(rho):
        return min(n_values / per_unit, n_units, n_values)
    size = n_values / (1 + (per_unit - 1) * rho)
    return min(max(size, n_values / per_unit), n_values)


def correlation_of(correlation: Mapping[str, float] | None, column: str) -> float:
    """``correlation[column]``, NaN when unknown."""
    if not correlation or column not in correlation:
        return math.nan
    return float(correlation[column])
