"""The reelops-contracts exception hierarchy."""

from __future__ import annotations

__all__ = ["ArtifactIntegrityError", "ContractError", "RatingRejectedError"]


class ContractError(Exception):
    """Base class of every error raised by reelops-contracts."""


class RatingRejectedError(ContractError, ValueError):
    """A rating breaks a rule of ingested ratings (the message lists every reason)."""


class ArtifactIntegrityError(ContractError):
    """A model file's sha256 differs from the one recorded when it was saved."""
