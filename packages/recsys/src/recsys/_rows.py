"""Ratings grouped by user without int64 or float64 copies of them (private).

The estimators that train on ratings user by user (:class:`~recsys.MatrixFactorization`)
fit from this layout: ``indptr``/``indices``/``ratings`` of a CSR matrix whose rows are
users and whose columns are movie positions, each row sorted by movie position. The
codes of the ids are read through a dense lookup table when the ids are integers in a
modest range (MovieLens ids are), so that no per-rating code array is ever made: at 25M
ratings the layout costs 8 bytes per rating (int32 movie, float32 rating) and nothing
else is allocated per rating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numba
import numpy as np

from recsys._validation import factorize_ids

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["UserRows", "row_biases", "unique_rows", "user_rows"]

# A lookup table may be this many entries beyond the number of ratings.
_LUT_SLACK = 1 << 22


class UserRows(NamedTuple):
    """Ratings as CSR rows: user ``u``'s are ``indices[indptr[u]:indptr[u + 1]]``."""

    user_ids: np.ndarray
    movie_ids: np.ndarray
    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    ratings: NDArray[np.float32]


@numba.njit(cache=True, nogil=True)
def _mark_present(values: np.ndarray, lo: int, size: int) -> NDArray[np.int32]:
    """Lookup table ``value - lo -> code`` (-1 where absent), codes in value order."""
    present = np.zeros(size, dtype=np.bool_)
    for t in range(values.shape[0]):
        present[np.int64(values[t]) - lo] = True
    lut = np.full(size, -1, dtype=np.int32)
    code = 0
    for v in range(size):
        if present[v]:
            lut[v] = code
            code += 1
    return lut


def _lookup(
    values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, NDArray[np.int32], int]:
    """``(values_or_codes, sorted_unique_ids, lut, lo)``: code = ``lut[value - lo]``.

    Integers in a range at most a few million wider than their count get a dense
    table; anything else is factorized once (one int32 code per rating).
    """
    if np.issubdtype(values.dtype, np.integer) and values.size:
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < values.size + _LUT_SLACK:
            lut = _mark_present(values, lo, hi - lo + 1)
            ids = (lo + np.flatnonzero(lut >= 0)).astype(values.dtype)
            return values, ids, lut, lo
    codes, ids = factorize_ids(values)
    return codes, ids, np.arange(len(ids), dtype=np.int32), 0


@numba.njit(cache=True, nogil=True)
def _fill_rows(  # noqa: PLR0917 - numba kernels take positional arrays
    users: np.ndarray,
    user_lut: NDArray[np.int32],
    user_lo: int,
    items: np.ndarray,
    item_lut: NDArray[np.int32],
    item_lo: int,
    ratings: np.ndarray,
    n_users: int,
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
    n = users.shape[0]
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    for t in range(n):
        indptr[user_lut[np.int64(users[t]) - user_lo] + 1] += 1
    for u in range(n_users):
        indptr[u + 1] += indptr[u]
    fill = indptr[:-1].copy()
    indices = np.empty(n, dtype=np.int32)
    out = np.empty(n, dtype=np.float32)
    for t in range(n):
        u = user_lut[np.int64(users[t]) - user_lo]
        p = fill[u]
        indices[p] = item_lut[np.int64(items[t]) - item_lo]
        out[p] = ratings[t]
        fill[u] = p + 1
    for u in range(n_users):
        lo, hi = indptr[u], indptr[u + 1]
        row = indices[lo:hi]
        ordered = True
        for p in range(1, hi - lo):
            if row[p] < row[p - 1]:
                ordered = False
                break
        if not ordered:
            # Stable: duplicate pairs keep their input order.
            order = np.argsort(row, kind="mergesort")
            indices[lo:hi] = row[order]
            out[lo:hi] = out[lo:hi][order]
    return indptr, indices, out


def user_rows(
    users_raw: np.ndarray, items_raw: np.ndarray, ratings: np.ndarray
) -> UserRows:
    """Group ratings by user (rows by sorted user id, movies by sorted movie id)."""
    users, user_ids, user_lut, user_lo = _lookup(users_raw)
    items, movie_ids, item_lut, item_lo = _lookup(items_raw)
    indptr, indices, row_ratings = _fill_rows(
        users, user_lut, user_lo, items, item_lut, item_lo, ratings, len(user_ids)
    )
    return UserRows(user_ids, movie_ids, indptr, indices, row_ratings)


@numba.njit(cache=True, nogil=True)
def _count_unique(indptr: NDArray[np.int64], indices: NDArray[np.int32]) -> int:
    total = 0
    for u in range(indptr.shape[0] - 1):
        for p in range(indptr[u], indptr[u + 1]):
            if p == indptr[u] or indices[p] != indices[p - 1]:
                total += 1
    return total


@numba.njit(cache=True, nogil=True)
def _dedupe(
    indptr: NDArray[np.int64], indices: NDArray[np.int32], total: int
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    out_ptr = np.zeros_like(indptr)
    out = np.empty(total, dtype=np.int32)
    q = 0
    for u in range(indptr.shape[0] - 1):
        for p in range(indptr[u], indptr[u + 1]):
            if p == indptr[u] or indices[p] != indices[p - 1]:
                out[q] = indices[p]
                q += 1
        out_ptr[u + 1] = q
    return out_ptr, out


def unique_rows(
    indptr: NDArray[np.int64], indices: NDArray[np.int32]
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """The rows without repeated movies (the same arrays when there are none)."""
    total = _count_unique(indptr, indices)
    if total == indices.shape[0]:
        return indptr, indices
    return _dedupe(indptr, indices, total)


@numba.njit(cache=True, nogil=True)
def _row_biases(  # noqa: PLR0917 - numba kernels take positional arrays
    indptr: NDArray[np.int64],
    indices: NDArray[np.int32],
    ratings: NDArray[np.float32],
    n_items: int,
    reg_user: float,
    reg_item: float,
    n_epochs: int,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    n_users = indptr.shape[0] - 1
    n = ratings.shape[0]
    total = 0.0
    for t in range(n):
        total += ratings[t]
    mu = total / n
    n_i = np.zeros(n_items)
    for t in range(n):
        n_i[indices[t]] += 1.0
    b_u = np.zeros(n_users)
    b_i = np.zeros(n_items)
    for _ in range(n_epochs):
        acc = np.zeros(n_items)
        for u in range(n_users):
            for p in range(indptr[u], indptr[u + 1]):
                acc[indices[p]] += (ratings[p] - mu) - b_u[u]
        for i in range(n_items):
            b_i[i] = acc[i] / (reg_item + n_i[i])
        for u in range(n_users):
            s = 0.0
            for p in range(indptr[u], indptr[u + 1]):
                s += (ratings[p] - mu) - b_i[indices[p]]
            b_u[u] = s / (reg_user + (indptr[u + 1] - indptr[u]))
    return mu, b_u, b_i


def row_biases(
    rows: UserRows, *, reg_user: float, reg_item: float, n_epochs: int
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """:func:`recsys._biases.fit_biases` on user rows, with no per-rating temporary."""
    return _row_biases(
        rows.indptr,
        rows.indices,
        rows.ratings,
        len(rows.movie_ids),
        float(reg_user),
        float(reg_item),
        int(n_epochs),
    )
