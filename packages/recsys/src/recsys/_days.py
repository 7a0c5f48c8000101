"""Same-day user offsets: the time-aware bias of a (user, day) (private).

A user's ratings given on one day share a mood, a scale and a session: the mean
residual of their other ratings that day (against the bias baseline), shrunk
towards zero, predicts the residual of a rating given that day (Koren 2009's
``b_{u,t}``). Days are UTC calendar days of Unix-second timestamps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.exceptions import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["TIMESTAMP_COL", "day_table", "days_of", "lookup_days", "seconds_of"]

TIMESTAMP_COL = "timestamp"
_SECONDS_PER_DAY = 86_400
# Keys are user position * _DAY_SPAN + day: days since 1970 stay far below it.
_DAY_SPAN = 1 << 24


def days_of(X: Any) -> NDArray[np.int64] | None:
    """UTC day numbers of ``X``'s ``timestamp`` column (Unix seconds), if it has one."""
    seconds = seconds_of(X)
    if seconds is None:
        return None
    days = np.floor_divide(seconds.astype(np.int64), _SECONDS_PER_DAY)
    return np.clip(days, 0, _DAY_SPAN - 1)


def seconds_of(X: Any) -> NDArray[np.float64] | None:
    """Unix seconds of ``X``'s ``timestamp`` column (or datetimes), if it has one."""
    if not isinstance(X, pd.DataFrame) or TIMESTAMP_COL not in X.columns:
        return None
    stamps = X[TIMESTAMP_COL]
    if pd.api.types.is_datetime64_any_dtype(stamps):
        since_epoch = pd.to_datetime(stamps, utc=True) - pd.Timestamp(0, tz="UTC")
        values = (since_epoch // pd.Timedelta(seconds=1)).to_numpy()
    elif pd.api.types.is_numeric_dtype(stamps) and not stamps.isna().any():
        values = stamps.to_numpy()
    else:
        msg = (
            f"column '{TIMESTAMP_COL}' must hold Unix seconds or datetimes with no "
            f"missing value, got dtype {stamps.dtype} with {int(stamps.isna().sum())} "
            "missing"
        )
        raise InvalidInputError(msg)
    return values.astype(np.float64)


def day_table(
    users: NDArray[np.integer],
    days: NDArray[np.int64],
    residuals: NDArray[np.float64],
    shrinkage: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Sorted (user, day) keys and their offsets ``sum(residual) / (n + shrinkage)``."""
    keys = users.astype(np.int64) * _DAY_SPAN + days
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=residuals, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    return unique, sums / (counts + shrinkage)


def lookup_days(
    keys: NDArray[np.int64],
    offsets: NDArray[np.float64],
    users: NDArray[np.integer],
    days: NDArray[np.int64],
) -> NDArray[np.float64]:
    """The offset of each (user, day); 0 where the user rated nothing that day."""
    if len(keys) == 0:
        return np.zeros(len(users))
    query = users.astype(np.int64) * _DAY_SPAN + days
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, offsets[pos], 0.0)
