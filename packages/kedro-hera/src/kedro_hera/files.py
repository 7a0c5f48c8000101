"""The one place where kedro-hera writes or deletes files."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

__all__ = ["write_files"]

logger = logging.getLogger(__name__)


def write_files(
    root: Path, files: Mapping[str, str], *, remove: Iterable[str] = ()
) -> list[str]:
    """Write text files below ``root`` and delete others.

    A file whose content is already right is left untouched (its modification time
    too), so recompiling an unchanged project changes nothing on disk.

    Args:
        root: Directory the relative paths start from.
        files: Text content by relative POSIX path.
        remove: Relative paths of files to delete (missing ones are ignored).

    Returns:
        The relative paths that were written or deleted, sorted.
    """
    changed: list[str] = []
    for relative, text in sorted(files.items()):
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        logger.info("Wrote %s", path)
        changed.append(relative)
    for relative in sorted(set(remove)):
        path = root / relative
        if path.is_file():
            path.unlink()
            logger.info("Deleted %s", path)
            changed.append(relative)
    return sorted(changed)
