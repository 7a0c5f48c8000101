"""Column names shared by ingestion, training, serving, replay and monitoring."""

from __future__ import annotations

__all__ = [
    "RATING_COLUMNS",
    "RAW_RATING_COLUMNS",
    "REQUEST_PROFILE_COLUMNS",
    "STATUS_ENDPOINTS",
    "STATUS_PROFILE_COLUMNS",
    "status_latency_column",
    "status_row",
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

#: The API endpoints whose every answer (status and latency) the service profiles.
STATUS_ENDPOINTS: tuple[str, ...] = ("/recommend", "/predict", "/similar", "/feedback")


def status_latency_column(endpoint: str) -> str:
    """The status profile's latency column of ``endpoint`` (``latency_ms_predict``)."""
    return "latency_ms_" + endpoint.strip("/").replace("/", "_")


#: Columns of a profiled answer, one row per request to a :data:`STATUS_ENDPOINTS`
#: endpoint, whatever its status: ``status`` (HTTP code), ``status_class``
#: (``2xx``, ``4xx``, ``5xx``, ...), ``latency_ms`` and one latency column per
#: endpoint (null on the other endpoints' rows), so that a merged profile still
#: gives each endpoint's quantiles.
STATUS_PROFILE_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "endpoint",
    "status",
    "status_class",
    "latency_ms",
    *(status_latency_column(e) for e in STATUS_ENDPOINTS),
)


def status_row(
    timestamp: float, endpoint: str, status: int, latency_ms: float
) -> tuple[object, ...]:
    """One answer as a row of :data:`STATUS_PROFILE_COLUMNS`."""
    return (
        timestamp,
        endpoint,
        status,
        f"{status // 100}xx",
        latency_ms,
        *(latency_ms if e == endpoint else None for e in STATUS_ENDPOINTS),
    )
