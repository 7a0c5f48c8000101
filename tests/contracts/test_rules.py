"""The rating rules on numbers: the scale, ids, timestamps and their messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from reelops_contracts import (
    GENRES,
    RATING_SCALE,
    RatingRejectedError,
    ValidationRules,
    check_rating,
    rating_problems,
)
from reelops_contracts.rules import quote, rating_text

NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # 1_700_000_000
RULES = ValidationRules(min_timestamp=datetime(1995, 1, 1))
GRID = "{0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5}"
VALID = {"user_id": 1, "movie_id": 10, "rating": 4.5, "timestamp": 1_600_000_000}


def problems(**over: object) -> list[str]:
    args = {**VALID, **over}
    return rating_problems(RULES, movie_ids={10, 20}, now=NOW, **args)  # type: ignore[arg-type]


def test_the_scale_is_half_stars_from_half_to_five() -> None:
    assert RATING_SCALE == (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
    assert RULES.rating_values == list(RATING_SCALE)
    assert RULES.genres == list(GENRES)
    assert len(GENRES) == 20


@pytest.mark.parametrize("rating", RATING_SCALE)
def test_every_rating_of_the_scale_is_valid(rating: float) -> None:
    assert problems(rating=rating) == []


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"rating": 4.2}, f"rating must be one of {GRID}, got '4.2'"),
        ({"rating": 9.0}, f"rating must be one of {GRID}, got '9'"),
        ({"rating": 0.0}, f"rating must be one of {GRID}, got '0'"),
        ({"rating": -1.0}, f"rating must be one of {GRID}, got '-1'"),
        ({"rating": float("inf")}, f"rating must be one of {GRID}, got 'inf'"),
        ({"rating": float("nan")}, "rating is missing or not a number, got 'nan'"),
        ({"user_id": 0}, "userId must be a positive integer, got '0'"),
        ({"user_id": 2**31}, "userId must be a positive integer, got '2147483648'"),
        ({"user_id": -3}, "userId must be a plain integer (digits only), got '-3'"),
        (
            {"movie_id": 30},
            "movieId must be a movie present in movies.csv, got '30'",
        ),
        (
            {"movie_id": -2},
            "movieId must be a plain integer (digits only), got '-2'",
        ),
        (
            {"timestamp": 788_918_399},  # a second before 1995
            "timestamp must be a unix time between 1995-01-01 and 2023-11-14, "
            "got '788918399'",
        ),
        (
            {"timestamp": 1_700_000_001},  # a second after now
            "timestamp must be a unix time between 1995-01-01 and 2023-11-14, "
            "got '1700000001'",
        ),
        (
            {"timestamp": -5},
            "timestamp must be a plain integer (digits only), got '-5'",
        ),
    ],
)
def test_one_broken_rule_gives_one_reason(over: dict[str, object], reason: str) -> None:
    assert problems(**over) == [reason]


def test_the_bounds_are_inclusive() -> None:
    assert problems(timestamp=788_918_400) == []  # 1995-01-01T00:00:00Z
    assert problems(timestamp=1_700_000_000) == []  # now
    assert problems(user_id=2**31 - 1) == []


def test_a_zero_movie_id_is_neither_positive_nor_in_the_catalog() -> None:
    assert problems(movie_id=0) == [
        "movieId must be a positive integer, got '0'",
        "movieId must be a movie present in movies.csv, got '0'",
    ]


def test_check_rating_raises_every_reason_on_one_line_in_column_order() -> None:
    # GIVEN a rating that breaks every rule
    msg = (
        "userId must be a positive integer, got '0'; "
        "movieId must be a positive integer, got '0'; "
        "movieId must be a movie present in movies.csv, got '0'; "
        f"rating must be one of {GRID}, got '9'; "
        "timestamp must be a unix time between 1995-01-01 and 2023-11-14, got '1'"
    )
    # WHEN it is checked THEN one line lists every reason
    with pytest.raises(RatingRejectedError, match=f"^{re.escape(msg)}$"):
        check_rating(
            RULES,
            user_id=0,
            movie_id=0,
            rating=9.0,
            timestamp=1,
            movie_ids={10},
            now=NOW,
        )


def test_a_valid_rating_passes_check_rating() -> None:
    check_rating(RULES, movie_ids={10}, now=NOW, **VALID)  # type: ignore[arg-type]


def test_max_timestamp_replaces_now_and_naive_times_are_utc() -> None:
    rules = ValidationRules(
        min_timestamp=datetime(2000, 1, 1), max_timestamp=datetime(2010, 1, 1)
    )
    assert rules.timestamp_bounds(NOW) == (946_684_800, 1_262_304_000)
    assert rules.timestamp_expectation(NOW) == (
        "must be a unix time between 2000-01-01 and 2010-01-01"
    )


def test_a_custom_grid_is_listed_sorted() -> None:
    rules = ValidationRules(min_timestamp="1995-01-01", rating_values=[5, 1, 3])
    assert rules.rating_expectation() == "must be one of {1, 3, 5}"


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="rating_scale"):
        ValidationRules.model_validate(
            {"min_timestamp": "1995-01-01", "rating_scale": [1]}
        )


def test_long_values_are_cut_in_reasons() -> None:
    assert quote(10**50) == f"{str(10**50)[:40]!r}... (51 characters)"
    assert rating_text(4.0) == "4"
    assert rating_text(4.5) == "4.5"
