"""Errors of the local Argo harness."""

from __future__ import annotations

__all__ = [
    "HarnessError",
    "ManifestError",
    "UnresolvedVariableError",
    "WorkflowFailedError",
]


class HarnessError(Exception):
    """Base error of the local Argo harness."""


class ManifestError(HarnessError):
    """The WorkflowTemplate is invalid, or uses a feature the harness lacks."""


class UnresolvedVariableError(HarnessError):
    """A ``{{...}}`` reference names no variable in scope (Argo rejects it too)."""


class WorkflowFailedError(HarnessError):
    """A task of the workflow failed; the message names it and quotes its log."""
