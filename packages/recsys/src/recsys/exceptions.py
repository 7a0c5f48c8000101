"""Exception hierarchy of :mod:`recsys`.

Every error raised on purpose by the library derives from :class:`RecsysError`, so a
caller can catch the whole family at once. Messages are one line and state what is
wrong, what was expected and what was received.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "InvalidInputError",
    "InvalidParameterError",
    "NotFittedError",
    "RecsysError",
    "UnknownEstimatorError",
    "UnknownMetricError",
]


class RecsysError(Exception):
    """Base class of every error raised on purpose by :mod:`recsys`."""


class InvalidInputError(RecsysError, ValueError):
    """Input data (interactions, ratings, rankings) has a wrong shape, type or value."""


class InvalidParameterError(RecsysError, ValueError):
    """A hyperparameter or function argument is out of its allowed range or unknown."""


class UnknownEstimatorError(RecsysError, ValueError):
    """An estimator short name is not in :data:`recsys.ESTIMATORS`."""


class NotFittedError(RecsysError, _SklearnNotFittedError):
    """A method that needs a fitted estimator was called before ``fit``."""


class UnknownMetricError(InvalidParameterError):
    """A metric name is not in the vocabulary (:mod:`recsys.vocabulary`)."""
