"""The few git operations promotion needs (subprocess at the edge)."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["commit_paths", "file_history", "working_tree_status"]


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def working_tree_status(repo: Path) -> str:
    """``git status --porcelain`` of tracked files ('' when the tree is clean)."""
    return _git(repo, "status", "--porcelain", "--untracked-files=no").strip()


def file_history(repo: Path, relpath: str) -> list[tuple[str, str]]:
    """``(commit, content)`` of every committed version of a file, newest first."""
    shas = _git(repo, "log", "--format=%H", "--", relpath).split()
    return [(sha, _git(repo, "show", f"{sha}:{relpath}")) for sha in shas]


def commit_paths(repo: Path, paths: list[str], message: str) -> str:
    """Commit ``paths`` with ``message``; returns the new commit SHA."""
    _git(repo, "add", "--", *paths)
    _git(repo, "commit", "--quiet", "-m", message, "--", *paths)
    return _git(repo, "rev-parse", "HEAD").strip()
