"""Typed ratings from raw ``ratings.csv``-like rows, and the rows quarantined.

Ingestion validates ``ratings.csv`` with it chunk by chunk, and monitoring the
feedback it keeps for training: a rating is accepted by the same rules wherever
it comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from reelops.raw_columns import PARSE_ERROR
from reelops.seen_keys import SeenKeys
from reelops.validation import (
    numeric_columns,
    parse_rules,
    ratings_schema,
    reference_time,
    repeated_pairs,
    split_valid,
)
from reelops_contracts import RAW_RATING_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ratings_check", "validate_ratings"]


def ratings_check(
    movies: pd.DataFrame, validation: dict[str, Any], now: str | None
) -> Callable[[pd.DataFrame, SeenKeys], tuple[pd.DataFrame, pd.DataFrame]]:
    """Validate a chunk of ``ratings.csv`` against the pairs seen so far.

    The schema, hence the time bound of "future", is fixed once for all chunks.
    """
    rules = parse_rules(validation)
    cols = list(RAW_RATING_COLUMNS)
    schema = ratings_schema(rules, movies["movie_id"], reference_time(now))

    def check(raw: pd.DataFrame, seen: SeenKeys) -> tuple[pd.DataFrame, pd.DataFrame]:
        typed = numeric_columns(raw, cols)
        parsed = typed[raw[PARSE_ERROR] == ""]
        valid, quarantine = split_valid(
            raw,
            typed,
            schema,
            source="ratings.csv",
            columns=cols,
            also=repeated_pairs(parsed, seen, ("userId", "movieId")),
        )
        ratings = pd.DataFrame(
            {
                "user_id": valid["userId"].astype("int32"),
                "movie_id": valid["movieId"].astype("int32"),
                "rating": valid["rating"].astype("float32"),
                "timestamp": valid["timestamp"].astype("int64"),
            }
        ).reset_index(drop=True)
        return ratings, quarantine

    return check


def validate_ratings(
    raw_ratings: pd.DataFrame,
    movies: pd.DataFrame,
    validation: dict[str, Any],
    now: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed ratings (``user_id, movie_id, rating, timestamp``) and their quarantine.

    A row is quarantined for: a field that is missing or not a number, an id or
    timestamp that is not a plain integer (digits only), a non-positive id, a
    rating off the configured grid, a timestamp outside
    ``[min_timestamp, max_timestamp or now]``, a movie absent from the valid movies,
    a repeated (user, movie) pair (the first occurrence stays valid), a malformed
    record or bytes that are not UTF-8.
    """
    return ratings_check(movies, validation, now)(raw_ratings, SeenKeys())
