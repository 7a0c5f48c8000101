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
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

#: Units needed to estimate a correlation between them.
_MIN_UNITS = 2

__all__ = ["effective_size", "intra_unit_correlation", "pooled_correlation"]


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


def effective_size(n_values: float, n_units: float, rho: float) -> float:
    """``n / (1 + (m - 1) rho)`` with ``m = n / units``, within ``[units, n]``."""
    if n_values <= 0 or n_units <= 0:
        return 0.0
    per_unit = max(n_values / n_units, 1.0)
    size = n_values / (1 + (per_unit - 1) * rho)
    return min(max(size, min(n_units, n_values)), n_values)


def correlation_of(correlation: Mapping[str, float] | None, column: str) -> float:
    """``correlation[column]``, NaN when unknown."""
    if not correlation or column not in correlation:
        return math.nan
    return float(correlation[column])
