"""Fetch a missing raw file from a published archive, verified by sha256."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from reelops.errors import DataSourceError

__all__ = ["ArchiveSource", "ensure_local_file", "sha256_bytes"]

_TIMEOUT_SECONDS = 60


class ArchiveSource(BaseModel):
    """Where a raw directory can be downloaded from, and how to verify it.

    ``members`` pins the sha256 of every file taken from the archive (the published
    checksums of the release); ``sha256`` optionally pins the archive itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    folder: str
    members: dict[str, str]
    sha256: str | None = None


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _fetch(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise DataSourceError(f"download url must be http(s), got '{url}'")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as resp:  # noqa: S310
            return bytes(resp.read())
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataSourceError(
            f"cannot download {url} ({reason}); offline? set MOVIELENS_DIR to a "
            "local copy of the data"
        ) from exc


def ensure_local_file(path: str, source: ArchiveSource) -> None:
    """Make sure ``path`` exists, extracting it (and its siblings) from the archive.

    Every member named in ``source.members`` is verified before anything is written;
    files are written atomically, so a failed download leaves nothing half-made.

    Raises:
        DataSourceError: offline, archive or member checksum mismatch, or a member
            missing from the archive.
    """
    target = Path(path)
    if target.exists():
        return
    if target.name not in source.members:
        raise DataSourceError(
            f"{target.name} is missing and not among the archive's pinned files "
            f"({', '.join(sorted(source.members))})"
        )
    archive = _fetch(source.url)
    if source.sha256 and sha256_bytes(archive) != source.sha256:
        raise DataSourceError(
            f"sha256 mismatch for {source.url}: expected {source.sha256}, "
            f"got {sha256_bytes(archive)}"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(archive))
    except zipfile.BadZipFile as exc:
        raise DataSourceError(f"{source.url} is not a zip archive") from exc
    verified: dict[str, bytes] = {}
    for name, expected in sorted(source.members.items()):
        member = f"{source.folder}/{name}"
        try:
            data = zf.read(member)
        except KeyError as exc:
            raise DataSourceError(f"{source.url} has no member '{member}'") from exc
        if sha256_bytes(data) != expected:
            raise DataSourceError(
                f"sha256 mismatch for {member} in {source.url}: expected {expected}, "
                f"got {sha256_bytes(data)}"
            )
        verified[name] = data
    target.parent.mkdir(parents=True, exist_ok=True)
    for name, data in verified.items():
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file 0600; raw data is readable like any other file (the
        # images read it as another user).
        Path(tmp).chmod(0o644)
        Path(tmp).replace(target.parent / name)
