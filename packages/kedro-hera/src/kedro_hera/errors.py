"""Exception hierarchy of kedro-hera.

Every message is a single line that says what is wrong, what was expected and what
was received, so that it can be grepped in CI logs and pinned in tests.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "GroupingError",
    "KedroHeraError",
    "LintError",
    "ParameterError",
    "PreflightError",
    "ProjectError",
    "SubmitError",
]


class KedroHeraError(Exception):
    """Base class of every error raised by kedro-hera."""


class ConfigError(KedroHeraError):
    """``argo.yml`` is missing or does not match the configuration model."""


class ProjectError(KedroHeraError):
    """The Kedro project cannot be loaded or lacks what compilation needs."""


class GroupingError(KedroHeraError):
    """Nodes cannot be grouped into an acyclic graph of Argo tasks."""


class ParameterError(KedroHeraError):
    """A Kedro parameter cannot be carried through an Argo parameter."""


class PreflightError(KedroHeraError):
    """A pipeline would fail on the cluster; found before compiling it.

    Args:
        problems: One line per problem found, in a deterministic order.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class LintError(KedroHeraError):
    """A generated manifest is not valid against the Argo schema or Hera models."""


class SubmitError(KedroHeraError):
    """Submitting or watching a workflow on the Argo server failed."""
