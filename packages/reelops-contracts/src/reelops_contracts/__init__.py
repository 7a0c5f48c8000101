"""What reelops' packages agree on, in a package light enough for every worker.

The serving bundle format (:mod:`~reelops_contracts.bundle`), the rules of a valid
rating (:mod:`~reelops_contracts.rules`), the feedback table
(:mod:`~reelops_contracts.feedback`), the genres and the shared column names.
It imports none of the other reelops packages and nothing heavier than pydantic.
"""

from __future__ import annotations

from reelops_contracts.bundle import (
    BUNDLE_FILES,
    MOVIE_COLUMNS,
    SHA256_METADATA_KEY,
    USER_COLUMNS,
    VALIDATION_METADATA_KEY,
    ServingBundle,
)
from reelops_contracts.columns import (
    RATING_COLUMNS,
    RAW_RATING_COLUMNS,
    REQUEST_PROFILE_COLUMNS,
    STATUS_ENDPOINTS,
    STATUS_PROFILE_COLUMNS,
    status_latency_column,
    status_row,
)
from reelops_contracts.errors import (
    ArtifactIntegrityError,
    ContractError,
    RatingRejectedError,
)
from reelops_contracts.feedback import FEEDBACK_TABLE, FeedbackColumn, FeedbackTable
from reelops_contracts.genres import GENRES, Genre
from reelops_contracts.integrity import sha256_bytes, verify_sha256
from reelops_contracts.rules import (
    ID_LIMIT,
    RATING_SCALE,
    ValidationRules,
    check_rating,
    rating_problems,
)

__all__ = [
    "BUNDLE_FILES",
    "FEEDBACK_TABLE",
    "GENRES",
    "ID_LIMIT",
    "MOVIE_COLUMNS",
    "RATING_COLUMNS",
    "RATING_SCALE",
    "RAW_RATING_COLUMNS",
    "REQUEST_PROFILE_COLUMNS",
    "SHA256_METADATA_KEY",
    "STATUS_ENDPOINTS",
    "STATUS_PROFILE_COLUMNS",
    "USER_COLUMNS",
    "VALIDATION_METADATA_KEY",
    "ArtifactIntegrityError",
    "ContractError",
    "FeedbackColumn",
    "FeedbackTable",
    "Genre",
    "RatingRejectedError",
    "ServingBundle",
    "ValidationRules",
    "check_rating",
    "rating_problems",
    "sha256_bytes",
    "status_latency_column",
    "status_row",
    "verify_sha256",
]
