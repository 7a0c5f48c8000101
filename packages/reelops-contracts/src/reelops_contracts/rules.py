"""What a valid rating is: the rules of ingestion, on numbers, with their messages.

:class:`ValidationRules` is the ``validation`` block of
``conf/base/parameters_data_processing.yml``; a packaged model carries it in its
metadata, so the service judges feedback by the rules its training data passed.
:func:`check_rating` applies them to one rating given as numbers and raises one
line listing every reason, worded and ordered as ingestion's quarantine words them
for the same values written in ``ratings.csv`` (the CSV validator builds its
messages from the same pieces: :data:`POSITIVE_INTEGER`, :data:`PLAIN_INTEGER`,
:data:`MISSING`, :data:`KNOWN_MOVIE`, :meth:`ValidationRules.rating_expectation`,
:meth:`ValidationRules.timestamp_expectation`, :func:`quote`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reelops_contracts.errors import RatingRejectedError
from reelops_contracts.genres import GENRES

if TYPE_CHECKING:
    from collections.abc import Container

__all__ = [
    "ID_LIMIT",
    "KNOWN_MOVIE",
    "MISSING",
    "PLAIN_INTEGER",
    "POSITIVE_INTEGER",
    "RATING_SCALE",
    "ValidationRules",
    "check_rating",
    "quote",
    "rating_problems",
    "rating_text",
]

#: The half-star grid of MovieLens ratings: 0.5 to 5.0 in steps of 0.5.
RATING_SCALE: tuple[float, ...] = tuple(k / 2 for k in range(1, 11))
#: Ids are positive integers below this bound (a signed 32-bit integer).
ID_LIMIT = 2**31
#: Why an id fails (a value of zero, a fraction or ``ID_LIMIT`` and above).
POSITIVE_INTEGER = "must be a positive integer"
#: Why an id or timestamp written with a sign, exponent or point fails.
PLAIN_INTEGER = "must be a plain integer (digits only)"
#: Why a value that is no number at all fails.
MISSING = "is missing or not a number"
#: Why a movie id that the catalog does not hold fails.
KNOWN_MOVIE = "must be a movie present in movies.csv"
#: Characters of a value quoted in a reason; longer values are cut.
_QUOTED_CHARS = 40


class ValidationRules(BaseModel):
    """What a valid MovieLens row is (``conf/base/parameters_data_processing.yml``).

    Attributes:
        rating_values: The allowed ratings (default :data:`RATING_SCALE`).
        min_timestamp: Earliest rating time (naive values are UTC).
        max_timestamp: Latest rating time; ``None`` is the time of the check.
        genres: The genres a movie may list (default :data:`GENRES`).
        min_year: Earliest release year parsed from a title.
        max_year: Latest release year parsed from a title.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rating_values: list[float] = Field(default_factory=lambda: list(RATING_SCALE))
    min_timestamp: datetime
    max_timestamp: datetime | None = None
    genres: list[str] = Field(default_factory=lambda: list(GENRES))
    min_year: int = 1870
    max_year: int = 2100

    @field_validator("min_timestamp", "max_timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def timestamp_bounds(self, now: datetime) -> tuple[int, int]:
        """Inclusive epoch-second bounds; the upper one defaults to ``now``."""
        upper = self.max_timestamp or now
        return int(self.min_timestamp.timestamp()), int(upper.timestamp())

    def rating_expectation(self) -> str:
        """``must be one of {0.5, 1, ...}``: the reason of a rating off the grid."""
        grid = ", ".join(f"{v:g}" for v in sorted(self.rating_values))
        return f"must be one of {{{grid}}}"

    def timestamp_expectation(self, now: datetime) -> str:
        """``must be a unix time between <day> and <day>`` (UTC days of the bounds)."""
        low, high = self.timestamp_bounds(now)
        lo_day = datetime.fromtimestamp(low, UTC).date()
        hi_day = datetime.fromtimestamp(high, UTC).date()
        return f"must be a unix time between {lo_day} and {hi_day}"


def quote(value: object) -> str:
    """``repr`` of a value as written, cut to a few dozen characters."""
    text = str(value) if value is not None else None
    if text is not None and len(text) > _QUOTED_CHARS:
        return f"{text[:_QUOTED_CHARS]!r}... ({len(text)} characters)"
    return repr(text)


def rating_text(rating: float) -> str:
    """A rating as a client writes it: ``4.5``, ``4`` (not ``4.0``), ``nan``."""
    return str(float(rating)).removesuffix(".0")


def _id_problems(column: str, value: int) -> list[str]:
    got = f", got {quote(value)}"
    if value < 0:  # written "-3": not digits only
        return [f"{column} {PLAIN_INTEGER}{got}"]
    if value == 0 or value >= ID_LIMIT:
        return [f"{column} {POSITIVE_INTEGER}{got}"]
    return []


def rating_problems(
    rules: ValidationRules,
    *,
    user_id: int,
    movie_id: int,
    rating: float,
    timestamp: int,
    movie_ids: Container[int],
    now: datetime,
) -> list[str]:
    """Every reason the rating breaks ``rules`` (none: it is valid).

    Args:
        rules: The validation rules.
        user_id: The user's id.
        movie_id: The movie's id, which must be in ``movie_ids``.
        rating: The rating, on the grid of ``rules.rating_values``.
        timestamp: Unix time of the rating (seconds).
        movie_ids: The catalog's movie ids.
        now: The time of the check (the upper bound unless ``max_timestamp``).
    """
    problems = _id_problems("userId", user_id)
    problems += _id_problems("movieId", movie_id)
    if movie_id >= 0 and movie_id not in movie_ids:
        problems.append(f"movieId {KNOWN_MOVIE}, got {quote(movie_id)}")
    got = f", got {quote(rating_text(rating))}"
    if math.isnan(rating):
        problems.append(f"rating {MISSING}{got}")
    elif rating not in rules.rating_values:
        problems.append(f"rating {rules.rating_expectation()}{got}")
    low, high = rules.timestamp_bounds(now)
    if timestamp < 0:
        problems.append(f"timestamp {PLAIN_INTEGER}, got {quote(timestamp)}")
    elif not low <= timestamp <= high:
        problems.append(
            f"timestamp {rules.timestamp_expectation(now)}, got {quote(timestamp)}"
        )
    return problems


def check_rating(
    rules: ValidationRules,
    *,
    user_id: int,
    movie_id: int,
    rating: float,
    timestamp: int,
    movie_ids: Container[int],
    now: datetime,
) -> None:
    """Refuse a rating that breaks ``rules`` (arguments of :func:`rating_problems`).

    Raises:
        RatingRejectedError: One line, every reason ``; ``-separated, e.g.
            ``rating must be one of {0.5, 1, ..., 5}, got '4.2'``.
    """
    problems = rating_problems(
        rules,
        user_id=user_id,
        movie_id=movie_id,
        rating=rating,
        timestamp=timestamp,
        movie_ids=movie_ids,
        now=now,
    )
    if problems:
        raise RatingRejectedError("; ".join(problems))
