"""Request and response bodies of the recommendation API (pydantic models).

Requests reject unknown keys and are strict about JSON types (``"1"`` and ``true``
are not integers; ``3.0`` is, as in JSON Schema), so a typo or a wrong type is a
400 naming the field rather than a value silently ignored or coerced. Every model
documents itself in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reelops_contracts import GENRES, Genre

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENCY_KEY_PATTERN",
    "MAX_BATCH_USERS",
    "MAX_FUTURE_SECONDS",
    "MAX_K",
    "BatchRecommendRequest",
    "BatchRecommendResponse",
    "ErrorDetail",
    "ErrorResponse",
    "FeedbackRequest",
    "FeedbackResponse",
    "MovieItem",
    "PredictRequest",
    "PredictResponse",
    "RecommendRequest",
    "RecommendResponse",
    "SimilarRequest",
    "SimilarResponse",
    "UserRecommendations",
]

MAX_K = 100
MAX_BATCH_USERS = 1000
#: How far ahead of the server's clock a ``/predict`` timestamp may be (clock skew).
MAX_FUTURE_SECONDS = 300
_ID_MAX = 2**31 - 1

#: What an ``Idempotency-Key`` header may hold: 1 to 255 visible ASCII characters.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"
#: The ``Idempotency-Key`` header of ``POST /feedback`` (an OpenAPI parameter).
IDEMPOTENCY_KEY_HEADER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A new unique value (e.g. a UUID) per rating, the same on "
    "every retry of it: the rating is stored once and a retry answers the stored "
    "record. Required when the body has no timestamp.",
    "schema": {
        "type": "string",
        "pattern": IDEMPOTENCY_KEY_PATTERN,
        "examples": ["0b6f3c9e-2d4a-4f7e-9a51-7c1d2e3f4a5b"],
    },
}


def _integral(value: object) -> object:
    """``3.0`` is the integer 3 (JSON Schema); anything else is left to validation."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


UserId = Annotated[
    int, Field(ge=1, le=_ID_MAX, description="MovieLens user id.", examples=[1])
]
MovieId = Annotated[
    int, Field(ge=1, le=_ID_MAX, description="MovieLens movie id.", examples=[1])
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _integral_numbers(cls, value: object) -> object:
        return _integral(value)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


class RecommendRequest(_Request):
    """Top-k recommendations for one user."""

    model_config = ConfigDict(
        title="RecommendRequest",
        json_schema_extra={
            "examples": [{"user_id": 1, "k": 5, "genres": ["Comedy", "Drama"]}]
        },
    )

    user_id: UserId
    k: int = Field(
        default=10, ge=1, le=MAX_K, description="Number of movies to return."
    )
    exclude_seen: bool = Field(
        default=True, description="Leave out the movies the user already rated."
    )
    genres: list[Genre] = Field(
        default_factory=list,
        max_length=len(GENRES),
        description="Only movies with at least one of these genres (empty: any).",
    )


class BatchRecommendRequest(_Request):
    """Top-k recommendations for many users in one call."""

    model_config = ConfigDict(
        title="BatchRecommendRequest",
        json_schema_extra={"examples": [{"user_ids": [1, 2, 999999], "k": 3}]},
    )

    user_ids: list[UserId] = Field(
        min_length=1,
        max_length=MAX_BATCH_USERS,
        description=f"Users to recommend for (1 to {MAX_BATCH_USERS}), in order.",
    )
    k: int = Field(default=10, ge=1, le=MAX_K, description="Number of movies per user.")
    exclude_seen: bool = Field(
        default=True, description="Leave out the movies each user already rated."
    )
    genres: list[Genre] = Field(
        default_factory=list,
        max_length=len(GENRES),
        description="Only movies with at least one of these genres (empty: any).",
    )


class PredictRequest(_Request):
    """The rating a user would give a movie (at a given moment, optionally)."""

    model_config = ConfigDict(
        title="PredictRequest",
        json_schema_extra={
            "examples": [
                {"user_id": 1, "movie_id": 1},
                {"user_id": 1, "movie_id": 1, "timestamp": 1700000000},
            ]
        },
    )

    user_id: UserId
    movie_id: MovieId
    timestamp: int | None = Field(
        default=None,
        ge=0,
        description="Unix time (seconds) of the rating moment, at most "
        f"{MAX_FUTURE_SECONDS} s after the server's clock (later: 422): models "
        "with a time-aware bias add the user's offset of that UTC day (from the "
        "ratings they gave that day). Absent: no such term.",
        examples=[1700000000],
    )


class SimilarRequest(_Request):
    """Movies similar to one movie."""

    model_config = ConfigDict(
        title="SimilarRequest",
        json_schema_extra={"examples": [{"movie_id": 1, "k": 5}]},
    )

    movie_id: MovieId
    k: int = Field(
        default=10, ge=1, le=MAX_K, description="Number of similar movies to return."
    )


class FeedbackRequest(_Request):
    """A rating a user gave a movie; validated like ingested ratings.

    Ids, the half-star grid, the timestamp range and the movie's existence are
    checked by the same rules (and with the same messages) as ``ratings.csv``.
    """

    model_config = ConfigDict(
        title="FeedbackRequest",
        json_schema_extra={
            "examples": [
                {"user_id": 1, "movie_id": 1, "rating": 4.5, "timestamp": 1700000000}
            ]
        },
    )

    user_id: int = Field(description="MovieLens user id.", examples=[1])
    movie_id: int = Field(description="MovieLens movie id.", examples=[1])
    rating: float = Field(description="Rating on the half-star grid.", examples=[4.5])
    timestamp: int | None = Field(
        default=None,
        description="Unix time of the rating (seconds); the server's clock if "
        "absent, which needs an Idempotency-Key header.",
        examples=[1700000000],
    )


class MovieItem(_Response):
    """A movie of the catalog with the model's score for it."""

    movie_id: int = Field(description="MovieLens movie id.")
    title: str = Field(description="Title without the release year.")
    year: int | None = Field(description="Release year, if the title had one.")
    genres: list[str] = Field(description="Genres of the movie.")
    score: float = Field(description="Model score: higher is better.")


class RecommendResponse(_Response):
    """Recommendations for one user."""

    model_config = ConfigDict(title="RecommendResponse")

    user_id: int = Field(description="The requested user.")
    items: list[MovieItem] = Field(description="Best first; at most k movies.")
    cold_start: bool = Field(
        description="True when the user is unknown to the model and got the "
        "popularity fallback."
    )
    model_version: str = Field(description="Tag of the model that answered.")


class UserRecommendations(_Response):
    """Recommendations for one user of a batch."""

    user_id: int = Field(description="The requested user.")
    items: list[MovieItem] = Field(description="Best first; at most k movies.")
    cold_start: bool = Field(description="True when the fallback answered.")


class BatchRecommendResponse(_Response):
    """Recommendations for every requested user, in request order."""

    model_config = ConfigDict(title="BatchRecommendResponse")

    results: list[UserRecommendations] = Field(description="One entry per user.")
    model_version: str = Field(description="Tag of the model that answered.")


class PredictResponse(_Response):
    """A predicted rating."""

    model_config = ConfigDict(title="PredictResponse")

    user_id: int = Field(description="The requested user.")
    movie_id: int = Field(description="The requested movie.")
    rating: float = Field(description="Predicted rating in [0.5, 5].")
    cold_start: bool = Field(
        description="True when the user or the movie is unknown to the model and "
        "the bias fallback answered."
    )
    model_version: str = Field(description="Tag of the model that answered.")


class SimilarResponse(_Response):
    """Movies similar to the requested one."""

    model_config = ConfigDict(title="SimilarResponse")

    movie_id: int = Field(description="The requested movie.")
    title: str = Field(description="Its title.")
    items: list[MovieItem] = Field(description="Most similar first.")
    fallback: bool = Field(
        description="True when the model has no similarity for this movie and "
        "movies sharing its genres (most popular first) answered."
    )
    model_version: str = Field(description="Tag of the model that answered.")


class FeedbackResponse(_Response):
    """What the feedback database holds for the request."""

    model_config = ConfigDict(title="FeedbackResponse")

    created: bool = Field(
        description="False when the same (user, movie, timestamp) was already "
        "stored, or the Idempotency-Key was seen before (a retry)."
    )
    user_id: int
    movie_id: int
    rating: float
    timestamp: int = Field(description="Unix time stored with the rating.")


class ErrorDetail(_Response):
    """One invalid field of a request body."""

    loc: list[str | int] = Field(description="Path of the field in the body.")
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="Machine-readable error type.")


class ErrorResponse(_Response):
    """Every error: a one-line message (and the invalid fields, for a 400)."""

    model_config = ConfigDict(title="ErrorResponse")

    error: str = Field(description="One line: what is wrong, what was expected.")
    detail: list[ErrorDetail] | None = Field(
        default=None, description="The invalid fields of a request body."
    )
