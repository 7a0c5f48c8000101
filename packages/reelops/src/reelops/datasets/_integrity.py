"""sha256 of model files: recorded when they are saved, checked before unpickling.

Unpickling runs code, so a model file is unpickled only when its bytes hash to the
sha256 recorded when it was saved: a mismatch raises
:class:`~reelops.errors.ArtifactIntegrityError` with one line naming the file, the
recorded and the actual digest. Where the digest is recorded depends on the store:
a model version tag in the MLflow registry (``artifact.sha256.<file stem>``), the
BentoML model's metadata (``artifact_sha256``), a ``.sha256`` file beside a pickle
dataset.

A file saved before digests were recorded has none: it is still loaded, with a
warning that names it and says how to record one (save it again), so that older
registry versions and bentos keep working until they are replaced.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, BinaryIO

from reelops.errors import ArtifactIntegrityError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "sha256_bytes",
    "sha256_file",
    "sha256_stream",
    "verify_sha256",
    "warn_unverified",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_stream(handle: BinaryIO) -> str:
    """The hex sha256 of what is left to read in ``handle`` (1 MiB at a time)."""
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    with path.open("rb") as handle:
        return sha256_stream(handle)


def warn_unverified(what: str) -> None:
    """Warn that ``what``, saved before digests were recorded, loads unverified."""
    logger.warning(
        "%s has no recorded sha256 (saved before model files were hashed): "
        "unpickling it unverified; save it again to record one",
        what,
    )


def verify_sha256(what: str, *, expected: str | None, actual: str) -> None:
    """Refuse ``what`` when its sha256 is not the recorded one.

    ``expected=None`` (nothing recorded: saved before digests were) only warns.

    Raises:
        ArtifactIntegrityError: ``actual`` differs from ``expected``.
    """
    if expected is None:
        warn_unverified(what)
        return
    if actual != expected:
        raise ArtifactIntegrityError(
            f"{what}: sha256 mismatch: expected {expected}, got {actual} "
            "(refusing to unpickle)"
        )
