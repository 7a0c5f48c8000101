"""Deterministic train/test splits of a ratings table.

Every split returns ``(train, test)``: two new DataFrames holding disjoint rows of the
input, each in the input's row order and with its original index (so rows can be
joined back). The input is never modified.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils import check_random_state

from recsys._validation import USER_COL, check_positive_int
from recsys.exceptions import InvalidInputError, InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["hash_split", "leave_last_n_split", "random_split", "temporal_split"]

TIMESTAMP_COL = "timestamp"


def _n_test(test_size: Any, n_rows: int) -> int:
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
        if 0 < n_test < n_rows:
            return n_test
    elif isinstance(test_size, numbers.Real) and 0.0 < float(test_size) < 1.0:
        n_test = round(float(test_size) * n_rows)
        if 0 < n_test < n_rows:
            return n_test
    msg = (
        "test_size must be a float in (0, 1) or an int in [1, n_rows - 1] leaving "
        f"both parts non-empty, got {test_size!r} for {n_rows} rows"
    )
    raise InvalidParameterError(msg)


def _require_columns(ratings: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in ratings.columns]
    if missing:
        msg = (
            f"ratings is missing column(s) {missing}: expected {columns}, got "
            f"{list(map(str, ratings.columns))}"
        )
        raise InvalidInputError(msg)


def _take(
    ratings: pd.DataFrame, test_mask: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return ratings.iloc[np.flatnonzero(~test_mask)], ratings.iloc[
        np.flatnonzero(test_mask)
    ]


def random_split(
    ratings: pd.DataFrame, *, test_size: float | int = 0.2, random_state: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a uniformly random subset of the ratings.

    Users and movies that are rare may have all their ratings in ``test``, so the
    test part can contain users and movies unseen in ``train`` (the estimators'
    fallback serves them).

    Parameters
    ----------
    ratings : DataFrame
        One rating per row; no column is required.
    test_size : float in (0, 1) or int, default=0.2
        Share (rounded to the nearest row) or number of rows in ``test``.
    random_state : int, RandomState instance or None, default=None
        Seed of the permutation; an int gives the same split every time.

    Returns
    -------
    train, test : DataFrame
    """
    n_test = _n_test(test_size, len(ratings))
    rng = check_random_state(random_state)
    test_mask = np.zeros(len(ratings), dtype=bool)
    test_mask[rng.permutation(len(ratings))[:n_test]] = True
    return _take(ratings, test_mask)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijective, well-mixed hash of each uint64."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_split(
    ratings: pd.DataFrame,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    user_col: str = USER_COL,
    movie_col: str = "movie_id",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each (user, movie) pair by a hash of the pair and ``seed``.

    A pair's side depends on the pair alone, never on the other rows: appending
    ratings (feedback) leaves every earlier pair where it was, so models trained on
    different data are evaluated on the same held-out pairs, and a pair held out
    once is never in any model's training part. The test share is ``test_size``
    in expectation (binomial: about ±0.1 points on 100k ratings).

    Parameters
    ----------
    ratings : DataFrame
        Must have the ``user_col`` and ``movie_col`` columns (integer ids).
    test_size : float in (0, 1), default=0.2
        Probability that a pair is held out.
    seed : int, default=0
        Another seed, another partition of the pairs.
    user_col : str, default="user_id"
    movie_col : str, default="movie_id"

    Returns
    -------
    train, test : DataFrame
    """
    _require_columns(ratings, [user_col, movie_col])
    if not (
        isinstance(test_size, numbers.Real)
        and not isinstance(test_size, bool)
        and 0.0 < float(test_size) < 1.0
    ):
        msg = f"test_size must be a float in (0, 1), got {test_size!r}"
        raise InvalidParameterError(msg)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        msg = f"seed must be an int, got {seed!r}"
        raise InvalidParameterError(msg)
    users = ratings[user_col].to_numpy().astype(np.uint64)
    movies = ratings[movie_col].to_numpy().astype(np.uint64)
    salt = _mix64(np.asarray([int(seed) % 2**64], dtype=np.uint64))[0]
    keys = _mix64(_mix64(users ^ salt) ^ movies)
    uniform = (keys >> np.uint64(11)).astype(np.float64) / float(2**53)
    test_mask = uniform < float(test_size)
    if test_mask.all() or not test_mask.any():
        msg = (
            f"test_size {test_size!r} with seed {seed} left one part empty for "
            f"{len(ratings)} rows"
        )
        raise InvalidParameterError(msg)
    return _take(ratings, test_mask)


def temporal_split(
    ratings: pd.DataFrame,
    *,
    test_size: float | int = 0.2,
    timestamp_col: str = TIMESTAMP_COL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the most recent ratings: a single global time cut.

    The ``n_test`` latest ratings go to ``test``; ratings sharing the cut timestamp
    are split by row order (a stable sort), so the split is deterministic. Users and
    movies that first appear after the cut exist only in ``test``.

    Parameters
    ----------
    ratings : DataFrame
        Must have the ``timestamp_col`` column.
    test_size : float in (0, 1) or int, default=0.2
        Share or number of rows in ``test``.
    timestamp_col : str, default="timestamp"

    Returns
    -------
    train, test : DataFrame
    """
    _require_columns(ratings, [timestamp_col])
    n_test = _n_test(test_size, len(ratings))
    order = np.argsort(ratings[timestamp_col].to_numpy(), kind="stable")
    test_mask = np.zeros(len(ratings), dtype=bool)
    test_mask[order[len(ratings) - n_test :]] = True
    return _take(ratings, test_mask)


def leave_last_n_split(
    ratings: pd.DataFrame,
    *,
    n: int = 1,
    user_col: str = USER_COL,
    timestamp_col: str = TIMESTAMP_COL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each user's ``n`` latest ratings.

    Ties in timestamp are broken by row order (later rows count as more recent).
    Users with ``n`` ratings or fewer are kept entirely in ``train``, so every test
    user is known in ``train``; a held-out movie may still be unseen in ``train``.

    Parameters
    ----------
    ratings : DataFrame
        Must have the ``user_col`` and ``timestamp_col`` columns.
    n : int, default=1
        Ratings held out per user.
    user_col : str, default="user_id"
    timestamp_col : str, default="timestamp"

    Returns
    -------
    train, test : DataFrame
    """
    _require_columns(ratings, [user_col, timestamp_col])
    n = check_positive_int("n", n)
    users = ratings[user_col].to_numpy()
    times = ratings[timestamp_col].to_numpy()
    rows = np.arange(len(ratings))
    order = np.lexsort((rows, times, users))
    sorted_users = users[order]
    # Rank from the end within each user: 0 is the latest rating.
    boundaries = np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1
    ends = np.append(boundaries, len(order))
    sizes = np.diff(ends, prepend=0)
    from_end = np.repeat(ends, sizes) - np.arange(len(order)) - 1
    group_size = np.repeat(sizes, sizes)
    test_sorted = (from_end < n) & (group_size > n)
    test_mask = np.zeros(len(ratings), dtype=bool)
    test_mask[order[test_sorted]] = True
    return _take(ratings, test_mask)
