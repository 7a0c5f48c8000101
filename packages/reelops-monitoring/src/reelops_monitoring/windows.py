"""Time windows of ratings, and a stationary (shuffled) version of a ratings log.

Ratings are primary ratings (``user_id, movie_id, rating, timestamp``) with
``timestamp`` in epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reelops_monitoring.errors import InvalidInputError, MissingColumnError

__all__ = ["Window", "shuffle_arrivals", "split_rows", "split_windows"]


@dataclass(frozen=True)
class Window:
    """The ratings whose timestamp falls in ``[start, end)`` (UTC, naive)."""

    start: pd.Timestamp
    end: pd.Timestamp
    ratings: pd.DataFrame

    @property
    def label(self) -> str:
        """The window's name: its start date, e.g. ``2016-07-01``."""
        return str(self.start.date())


def split_windows(ratings: pd.DataFrame, *, freq: str = "Q") -> list[Window]:
    """Split ratings into consecutive calendar windows (``"Q"``, ``"M"``, ``"Y"``).

    Empty windows are skipped; rows without a timestamp belong to no window.

    Raises:
        MissingColumnError: If ``ratings`` has no ``timestamp`` column.
        InvalidInputError: If ``freq`` is not a pandas period frequency.
    """
    if "timestamp" not in ratings.columns:
        raise MissingColumnError(
            f"ratings must have a 'timestamp' column, got {list(ratings.columns)}"
        )
    stamps = pd.to_datetime(ratings["timestamp"], unit="s")
    try:
        periods = stamps.dt.to_period(freq)
    except ValueError as exc:
        raise InvalidInputError(
            f"freq must be a pandas period frequency such as 'Q', got '{freq}' instead"
        ) from exc
    windows = []
    for period, frame in ratings.groupby(periods, sort=True):
        start = pd.Period(period).start_time
        end = (pd.Period(period) + 1).start_time
        windows.append(Window(start=start, end=end, ratings=frame))
    return windows


def split_rows(ratings: pd.DataFrame, *, rows: int) -> list[Window]:
    """Split ratings into consecutive windows of ``rows`` ratings in time order.

    A window spans its first rating's second to just after its last one; the
    last ratings, fewer than ``rows``, belong to no window, nor do rows without
    a timestamp. Ties in time keep the rows' order.

    Raises:
        MissingColumnError: If ``ratings`` has no ``timestamp`` column.
        InvalidInputError: If ``rows`` is not positive.
    """
    if "timestamp" not in ratings.columns:
        raise MissingColumnError(
            f"ratings must have a 'timestamp' column, got {list(ratings.columns)}"
        )
    if rows < 1:
        raise InvalidInputError(f"rows must be >= 1, got {rows} instead")
    ordered = ratings[ratings["timestamp"].notna()].sort_values(
        "timestamp", kind="stable"
    )
    windows = []
    for first in range(0, len(ordered) - rows + 1, rows):
        frame = ordered.iloc[first : first + rows]
        stamps = frame["timestamp"]
        windows.append(
            Window(
                start=pd.Timestamp(int(stamps.iloc[0]), unit="s"),
                end=pd.Timestamp(int(stamps.iloc[-1]) + 1, unit="s"),
                ratings=frame,
            )
        )
    return windows


def shuffle_arrivals(
    ratings: pd.DataFrame,
    *,
    seed: int,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
) -> pd.DataFrame:
    """The same users and ratings, each user arriving at a random time.

    Every user's ratings are shifted by one offset, so that the user's first
    rating falls uniformly at random in ``[start, end)``; sessions, activity and
    tastes are kept. The result is a stationary stream with the real structure of
    a window (a few users, many ratings each): what windows look like when nothing
    drifts. Ratings shifted past ``end`` are kept; the caller windows them.

    Returns:
        A new frame, sorted by timestamp (the input is not modified).

    Raises:
        InvalidInputError: If ``end`` is not after ``start``.
    """
    low = int(pd.Timestamp(start).value // 10**9)
    high = int(pd.Timestamp(end).value // 10**9)
    if high <= low:
        raise InvalidInputError(f"end must be after start, got {start} and {end}")
    rng = np.random.default_rng(seed)
    users = np.sort(ratings["user_id"].unique())
    arrival = pd.Series(rng.integers(low, high, size=len(users)), index=users)
    first = ratings.groupby("user_id")["timestamp"].transform("min")
    shifted = ratings["timestamp"] - first + ratings["user_id"].map(arrival)
    out = ratings.assign(timestamp=shifted.astype("int64"))
    return out.sort_values(["timestamp", "user_id", "movie_id"], kind="stable")
