"""Exceptions of reelops-monitoring: a base class and one subclass per problem."""

from __future__ import annotations

__all__ = [
    "InvalidInputError",
    "MissingColumnError",
    "MonitoringError",
    "ProfileError",
]


class MonitoringError(Exception):
    """Base class of every error raised by reelops-monitoring."""


class ProfileError(MonitoringError):
    """A profile could not be built, merged, serialized or deserialized."""


class MissingColumnError(MonitoringError):
    """A column the configuration or the caller needs is absent."""


class InvalidInputError(MonitoringError):
    """An argument has the wrong shape or value."""
