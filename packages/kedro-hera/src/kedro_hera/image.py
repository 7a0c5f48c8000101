"""The tag of the image every task runs.

In this order: ``$KEDRO_HERA_IMAGE_TAG``; ``image.tag``; the content hash of the
files below ``image.tag_from``; the git SHA of the project. A content-addressed tag
names what goes into the image, not the commit: a commit that changes none of those
files leaves the tag, hence the manifests, unchanged, and any change to them makes
the committed manifests stale.

The files hashed are those below each ``tag_from`` path that git tracks or would
track (``git ls-files --cached --others --exclude-standard``: untracked files count,
ignored ones do not). Outside a git work tree (or without git), every file below the
paths counts except ``__pycache__`` directories and ``*.pyc`` files. The hash is a
SHA-256 over each file's relative POSIX path and bytes, in path order.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kedro_hera.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from kedro_hera.config import ImageConfig

__all__ = [
    "CONTENT_TAG_LENGTH",
    "GIT_SHA_TAG",
    "IMAGE_TAG_ENV_VAR",
    "ImageTag",
    "cached_content_tag",
    "content_tag",
    "resolve_image_tag",
    "tag_source_files",
]

IMAGE_TAG_ENV_VAR = "KEDRO_HERA_IMAGE_TAG"
#: Hex digits of the SHA-256 kept in a content tag (64 bits).
CONTENT_TAG_LENGTH = 16
_SKIPPED_DIRS = {"__pycache__"}
_SKIPPED_SUFFIXES = {".pyc"}


@dataclass(frozen=True)
class ImageTag:
    """A resolved image tag and where it came from.

    Attributes:
        tag: The tag, or None when it falls back to the git SHA.
        source: ``$KEDRO_HERA_IMAGE_TAG``, ``image.tag``, ``image.tag_from`` or
            ``git SHA``.
        paths: The ``tag_from`` paths, when the tag is their content hash.
    """

    tag: str | None
    source: str
    paths: tuple[str, ...] = ()

    def describe(self) -> str:
        """Say where the tag comes from, for messages."""
        if self.paths:
            return f"the content hash of image.tag_from ({', '.join(self.paths)})"
        return self.source


#: The tag of an env whose argo.yml resolves none: the git SHA, given at compile time.
GIT_SHA_TAG = ImageTag(None, "git SHA")


def _git_files(root: Path, paths: Sequence[str]) -> list[str] | None:
    """Files below ``paths`` that git tracks or would track, or None without git."""
    try:
        result = subprocess.run(
            [
                "git",
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--",
                *paths,
            ],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = {name for name in result.stdout.decode("utf-8").split("\0") if name}
    # Files deleted from the work tree but still in the index are not content.
    return sorted(n for n in names if (root / n).is_file() or (root / n).is_symlink())


def _walked_files(root: Path, paths: Sequence[str]) -> list[str]:
    found: set[str] = set()
    for path in paths:
        top = root / path
        if top.is_file():
            found.add(top.relative_to(root).as_posix())
            continue
        for directory, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
            found.update(
                (Path(directory) / name).relative_to(root).as_posix()
                for name in files
                if Path(name).suffix not in _SKIPPED_SUFFIXES
            )
    return sorted(found)


def tag_source_files(root: Path, paths: Sequence[str]) -> list[str]:
    """List the files whose content makes the tag.

    Args:
        root: The project root; ``paths`` are relative to it.
        paths: ``image.tag_from``.

    Returns:
        Relative POSIX paths, sorted.

    Raises:
        ConfigError: When a path names nothing in the project, or only files
            git ignores.
    """
    missing = [p for p in paths if not (root / p).exists()]
    if missing:
        msg = (
            f"image.tag_from: {', '.join(repr(p) for p in missing)} not found in "
            f"{root} (expected files or directories of the project)"
        )
        raise ConfigError(msg)
    files = _git_files(root, paths)
    if files is None:
        files = _walked_files(root, paths)
    empty = [
        p
        for p in paths
        if not any(f == p or f.startswith(f"{p.rstrip('/')}/") for f in files)
    ]
    if empty:
        msg = (
            f"image.tag_from: {', '.join(repr(p) for p in empty)} holds no file git "
            "tracks or would track (expected files that go into the image)"
        )
        raise ConfigError(msg)
    return files


def _file_bytes(path: Path) -> bytes:
    if path.is_symlink():
        return b"symlink:" + os.readlink(path).encode("utf-8")
    return path.read_bytes()


def _digest(root: Path, files: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        data = _file_bytes(root / name)
        for part in (name.encode("utf-8"), str(len(data)).encode("ascii"), data):
            digest.update(part)
            digest.update(b"\0")
    return digest.hexdigest()


def content_tag(root: Path, paths: Sequence[str]) -> str:
    """Return the content-addressed tag of the files below ``paths``.

    Args:
        root: The project root; ``paths`` are relative to it.
        paths: ``image.tag_from``.

    Returns:
        The first :data:`CONTENT_TAG_LENGTH` hex digits of the SHA-256.

    Raises:
        ConfigError: When a path names nothing in the project.
    """
    return _digest(root, tag_source_files(root, paths))[:CONTENT_TAG_LENGTH]


def cached_content_tag() -> Callable[[Path, Sequence[str]], str]:
    """Return :func:`content_tag` memoized, for envs sharing ``tag_from`` paths.

    Returns:
        A function with the signature of :func:`content_tag`.
    """
    cache: dict[tuple[Path, tuple[str, ...]], str] = {}

    def hasher(root: Path, paths: Sequence[str]) -> str:
        key = (root, tuple(paths))
        if key not in cache:
            cache[key] = content_tag(root, paths)
        return cache[key]

    return hasher


def resolve_image_tag(
    image: ImageConfig,
    root: Path,
    *,
    hasher: Callable[[Path, Sequence[str]], str] = content_tag,
) -> ImageTag:
    """Resolve the image tag of an env (None when it is the git SHA).

    Args:
        image: ``image`` of the env's argo.yml.
        root: The project root.
        hasher: Computes a content tag (a cache may wrap :func:`content_tag`).

    Returns:
        The tag and its source.

    Raises:
        ConfigError: When a ``tag_from`` path names nothing in the project.
    """
    from_env = os.environ.get(IMAGE_TAG_ENV_VAR)
    if from_env:
        return ImageTag(from_env, f"${IMAGE_TAG_ENV_VAR}")
    if image.tag:
        return ImageTag(image.tag, "image.tag")
    if image.tag_from:
        paths = tuple(image.tag_from)
        return ImageTag(hasher(root, paths), "image.tag_from", paths)
    return GIT_SHA_TAG
