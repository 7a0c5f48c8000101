"""The reelops-serving exception hierarchy: one base error, one subclass per family.

Errors a client caused are :class:`RequestError`: BentoML exceptions whose
``error_code`` is the HTTP status they answer, so raising one from an API method
is the response. Every message is one line that says what is wrong, what was
expected and what was received, and reaches the client verbatim (never a stack
trace; the service does not even log them as errors).
"""

from __future__ import annotations

from http import HTTPStatus

from bentoml.exceptions import BentoMLException

__all__ = [
    "FeedbackConflictError",
    "FeedbackRejectedError",
    "FeedbackUnavailableError",
    "FutureTimestampError",
    "IdempotencyKeyError",
    "IdempotencyKeyReusedError",
    "ModelBundleError",
    "RequestError",
    "ServingConfigError",
    "ServingError",
    "UnknownMovieError",
]


class ServingError(Exception):
    """Base class of every error raised on purpose by :mod:`reelops_serving`."""


class ServingConfigError(ServingError):
    """The serving configuration (file, environment or secret) is invalid."""


class ModelBundleError(ServingError):
    """The packaged model is missing from the store or does not load."""


class RequestError(ServingError, BentoMLException):
    """A request the service refuses; ``error_code`` is the HTTP status it answers."""

    error_code = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str) -> None:
        super().__init__(message)


class UnknownMovieError(RequestError):
    """The movie is not in the catalog of the served model."""

    error_code = HTTPStatus.NOT_FOUND


class FeedbackRejectedError(RequestError):
    """A feedback record breaks a rule that ingested ratings must follow."""

    error_code = HTTPStatus.UNPROCESSABLE_ENTITY


class FeedbackConflictError(RequestError):
    """The same (user, movie, timestamp) was already stored with another rating."""

    error_code = HTTPStatus.CONFLICT


class FeedbackUnavailableError(RequestError):
    """The feedback database does not answer (the rating was not stored)."""

    error_code = HTTPStatus.SERVICE_UNAVAILABLE


class FutureTimestampError(RequestError):
    """A ``/predict`` timestamp later than the server's clock allows."""

    error_code = HTTPStatus.UNPROCESSABLE_ENTITY


class IdempotencyKeyError(RequestError):
    """The ``Idempotency-Key`` header is invalid, or missing where it is needed."""


class IdempotencyKeyReusedError(IdempotencyKeyError):
    """An ``Idempotency-Key`` already used by the caller for another feedback."""

    error_code = HTTPStatus.UNPROCESSABLE_ENTITY
