"""Where code came from: git SHA and dirty flag of the working tree."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["GitState", "git_state"]


@dataclass(frozen=True)
class GitState:
    """The commit a run used and whether the tree had uncommitted changes."""

    sha: str
    dirty: bool

    def as_tags(self) -> dict[str, str]:
        """MLflow tags (``git.sha``, ``git.dirty``)."""
        return {"git.sha": self.sha, "git.dirty": str(self.dirty).lower()}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()


def git_state(repo: Path) -> GitState:
    """The git state of ``repo``.

    ``GIT_SHA`` / ``GIT_DIRTY`` win when set (images carry no ``.git``). Outside any
    repository the SHA is ``unknown`` and the tree counts as dirty.
    """
    if sha := os.environ.get("GIT_SHA"):
        return GitState(sha, os.environ.get("GIT_DIRTY", "false").lower() == "true")
    try:
        sha = _git(repo, "rev-parse", "HEAD")
        dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return GitState("unknown", True)
    return GitState(sha, dirty)
