"""Feedback on numbers and ``ratings.csv`` through pandera: the same reason, word for word.

The grid crosses valid and invalid ids, ratings and timestamps; each rating is
written as a client would write it in the CSV and validated by ingestion's pandera
schema (``reelops.validation``), then checked on numbers by the contracts.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pandas as pd

from reelops.raw_columns import LINE, PARSE_ERROR
from reelops.validation import numeric_columns, ratings_schema, split_valid
from reelops_contracts import (
    RAW_RATING_COLUMNS,
    ValidationRules,
    rating_problems,
)
from reelops_contracts.rules import rating_text

NOW = datetime.fromtimestamp(1_700_000_000, UTC)
RULES = ValidationRules(min_timestamp="1995-01-01")
MOVIES = pd.Series([1, 2, 3], dtype="int64")

USERS = [1, 0, -3, 2**31 - 1, 2**31, 10**20, 10**45]
MOVIE_IDS = [1, 999, 0, -2, 2**31]
RATINGS = [4.0, 4.5, 4.2, 0.0, 9.0, -1.0, 0.5, 5.0, 1e20, 1e-5, float("nan")]
RATINGS += [float("inf"), -0.0]
TIMESTAMPS = [1_600_000_000, 1, -5, 1_800_000_000, 788918400, 788918399]
TIMESTAMPS += [1_700_000_000, 1_700_000_001, 10**20]


def test_every_combination_gets_ingestions_reason() -> None:
    # GIVEN every combination, written as CSV text
    grid = list(itertools.product(USERS, MOVIE_IDS, RATINGS, TIMESTAMPS))
    raw = pd.DataFrame(
        {
            "userId": [str(u) for u, _, _, _ in grid],
            "movieId": [str(m) for _, m, _, _ in grid],
            "rating": [rating_text(r) for _, _, r, _ in grid],
            "timestamp": [str(t) for _, _, _, t in grid],
            LINE: range(2, len(grid) + 2),
            PARSE_ERROR: "",
        }
    )
    columns = list(RAW_RATING_COLUMNS)
    # WHEN ingestion validates the table and the contracts check each rating
    valid, quarantine = split_valid(
        raw,
        numeric_columns(raw, columns),
        ratings_schema(RULES, MOVIES, NOW),
        source="feedback",
        columns=columns,
    )
    ingested = dict(zip(quarantine["line"] - 2, quarantine["reason"], strict=True))
    checked = {
        i: "; ".join(problems)
        for i, (u, m, r, t) in enumerate(grid)
        if (
            problems := rating_problems(
                RULES,
                user_id=u,
                movie_id=m,
                rating=r,
                timestamp=t,
                movie_ids=set(MOVIES),
                now=NOW,
            )
        )
    }
    # THEN the same rows are refused with the same reasons, and the rest accepted
    assert len(valid) > 0 and len(quarantine) > 0
    assert checked == ingested
