"""Column names shared by ingestion, training, serving, replay and monitoring."""

from __future__ import annotations

__all__ = [
    "RATING_COLUMNS",
    "RAW_RATING_COLUMNS",
    "REQUEST_PROFILE_COLUMNS",
]

#: A rating table as the pipelines and the feedback table name it.
RATING_COLUMNS: tuple[str, ...] = ("user_id", "movie_id", "rating", "timestamp")
#: The header of MovieLens ``ratings.csv`` (same order as :data:`RATING_COLUMNS`).
RAW_RATING_COLUMNS: tuple[str, ...] = ("userId", "movieId", "rating", "timestamp")
#: Columns of a profiled request, one row per answered request: what the service
#: records and what replay and monitoring profile.
REQUEST_PROFILE_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "endpoint",
    "user_activity",
    "k",
    "genres",
    "n_genres",
    "exclude_seen",
    "cold_start",
    "n_items",
    "top_score",
    "latency_ms",
)
