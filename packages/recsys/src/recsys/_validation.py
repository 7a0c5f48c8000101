"""Input validation and id encoding shared by every estimator (private)."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from recsys.exceptions import InvalidInputError, InvalidParameterError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray
    from sklearn.base import BaseEstimator

__all__ = [
    "ITEM_COL",
    "USER_COL",
    "check_non_negative_float",
    "check_positive_int",
    "encode_ids",
    "factorize_ids",
    "validate_interactions",
    "validate_ratings",
]

USER_COL = "user_id"
ITEM_COL = "movie_id"


def _frame_columns(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in (USER_COL, ITEM_COL) if c not in X.columns]
    if missing:
        msg = (
            f"X is missing column(s) {missing}: expected a DataFrame with columns "
            f"'{USER_COL}' and '{ITEM_COL}', got columns {list(map(str, X.columns))}"
        )
        raise InvalidInputError(msg)
    if len(X) == 0:
        msg = "X has no rows: expected at least 1 (user_id, movie_id) pair, got 0"
        raise InvalidInputError(msg)
    users = X[USER_COL].to_numpy()
    items = X[ITEM_COL].to_numpy()
    for name, values in ((USER_COL, users), (ITEM_COL, items)):
        if pd.isna(values).any():
            msg = (
                f"column '{name}' contains missing values: expected every id to be "
                f"set, got {int(pd.isna(values).sum())} missing"
            )
            raise InvalidInputError(msg)
    return users, items


def _is_unnamed(X: pd.DataFrame) -> bool:
    """A frame with default integer column labels is just an array."""
    return isinstance(X.columns, pd.RangeIndex) and X.columns.start == 0


def validate_interactions(
    estimator: BaseEstimator,
    X: Any,
    y: ArrayLike | None = None,
    *,
    reset: bool,
    requires_y: bool = False,
) -> tuple[np.ndarray, np.ndarray, NDArray[np.floating] | None]:
    """Split ``X`` into raw user ids and movie ids (and validate ``y``).

    ``X`` is either a DataFrame with columns ``user_id`` and ``movie_id`` (other
    columns are ignored) or a numeric array-like with at least two columns whose
    first two columns are ``(user_id, movie_id)``; further columns are ignored. A
    DataFrame without column labels (a default ``RangeIndex``) counts as an array.
    """
    if isinstance(X, pd.DataFrame) and not _is_unnamed(X):
        users, items = _frame_columns(X)
        if reset:
            estimator.n_features_in_ = 2
        ratings = None
        if requires_y or y is not None:
            ratings = validate_ratings(y, n_samples=len(users))
        return users, items, ratings
    # At predict time the n_features_in_ check (set at fit to >= 2) comes first.
    min_features = 2 if reset else 1
    try:
        if requires_y or y is not None:
            arr, y_arr = validate_data(
                estimator,
                X,
                y,
                reset=reset,
                ensure_min_features=min_features,
                dtype="numeric",
                y_numeric=True,
            )
            ratings = np.asarray(y_arr, dtype=np.float64)
        else:
            arr = validate_data(
                estimator,
                X,
                reset=reset,
                ensure_min_features=min_features,
                dtype="numeric",
            )
            ratings = None
    except InvalidInputError:
        raise
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    return arr[:, 0], arr[:, 1], ratings


def validate_ratings(y: ArrayLike | None, *, n_samples: int) -> NDArray[np.floating]:
    """Return ``y`` as a finite 1-D float array of length ``n_samples``.

    float32 ratings stay float32 and no copy is made of a float array.
    """
    if y is None:
        msg = (
            "this estimator requires y to be passed, but the target y is None: "
            "expected one rating per row of X"
        )
        raise InvalidInputError(msg)
    try:
        arr = np.asarray(y)
        if arr.dtype != np.float32:
            arr = arr.astype(np.float64, copy=False)
        arr = column_or_1d(arr, warn=True)
        check_consistent_length(arr, np.empty(n_samples))
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"y is not a valid vector of ratings: {exc}") from exc
    if not np.all(np.isfinite(arr)):
        msg = (
            "Input y contains NaN or infinity: expected finite ratings, got "
            f"{int((~np.isfinite(arr)).sum())} non-finite value(s)"
        )
        raise InvalidInputError(msg)
    return arr


def encode_ids(
    vocabulary: np.ndarray, values: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Map raw ids to positions in the sorted ``vocabulary``.

    Returns the positions (0 where unknown) and a boolean mask of known ids. Ids of
    a type that cannot be compared with the vocabulary are simply unknown.
    """
    vals = np.asarray(values)
    if vals.ndim == 0:
        vals = vals.reshape(1)
    n_vocab = len(vocabulary)
    if n_vocab == 0 or vals.size == 0:
        return np.zeros(vals.shape, dtype=np.int64), np.zeros(vals.shape, dtype=bool)
    try:
        pos = np.searchsorted(vocabulary, vals)
    except (TypeError, ValueError):
        return np.zeros(vals.shape, dtype=np.int64), np.zeros(vals.shape, dtype=bool)
    pos = np.minimum(pos, n_vocab - 1)
    try:
        known = np.asarray(vocabulary[pos] == vals, dtype=bool)
    except (TypeError, ValueError):  # pragma: no cover - exotic mixed dtypes
        known = np.zeros(vals.shape, dtype=bool)
    return np.where(known, pos, 0).astype(np.int64), known


def factorize_ids(values: np.ndarray) -> tuple[NDArray[np.int32], np.ndarray]:
    """Return ``(codes, sorted_unique_ids)`` with codes as int32 positions."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int32, copy=False), np.asarray(uniques)


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Validate an integer hyperparameter ``>= minimum``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        msg = f"{name} must be an integer >= {minimum}, got {value!r} instead"
        raise InvalidParameterError(msg)
    return int(value)


def check_non_negative_float(
    name: str, value: Any, *, strictly_positive: bool = False
) -> float:
    """Validate a real hyperparameter ``>= 0`` (or ``> 0``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        fvalue = float(value)
        ok = np.isfinite(fvalue) and (fvalue > 0 if strictly_positive else fvalue >= 0)
    if not ok:
        bound = "> 0" if strictly_positive else ">= 0"
        msg = f"{name} must be a finite real number {bound}, got {value!r} instead"
        raise InvalidParameterError(msg)
    return float(value)
