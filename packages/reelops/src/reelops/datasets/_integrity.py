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
import pickle
from typing import TYPE_CHECKING, Any, BinaryIO

from reelops.errors import ArtifactIntegrityError
from reelops_contracts import integrity

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "dump_pickle",
    "sha256_bytes",
    "sha256_file",
    "sha256_stream",
    "verify_sha256",
    "warn_unverified",
]

_CHUNK = 1 << 20

sha256_bytes = integrity.sha256_bytes
warn_unverified = integrity.warn_unverified


def sha256_stream(handle: BinaryIO, copy_to: BinaryIO | None = None) -> str:
    """The hex sha256 of what is left to read in ``handle`` (1 MiB at a time).

    With ``copy_to``, each chunk is also written there: a copy hashed on the way.
    """
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return digest.hexdigest()


class _HashingWriter:
    """A binary file that hashes what is written to it on the way."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return self._handle.write(data)


def dump_pickle(obj: Any, handle: BinaryIO, protocol: int = 5) -> str:
    """Pickle ``obj`` into ``handle`` and return the hex sha256 of the bytes written.

    The pickle streams to the file (large arrays are written from their own
    buffers), so no second copy of a model of gigabytes is made in memory.
    """
    writer = _HashingWriter(handle)
    pickle.dump(obj, writer, protocol=protocol)
    return writer.digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    with path.open("rb") as handle:
        return sha256_stream(handle)


def verify_sha256(what: str, *, expected: str | None, actual: str) -> None:
    """Refuse ``what`` when its sha256 is not the recorded one.

    ``expected=None`` (nothing recorded: saved before digests were) only warns.
    The message is :func:`reelops_contracts.verify_sha256`'s.

    Raises:
        ArtifactIntegrityError: ``actual`` differs from ``expected`` (a Kedro
            ``DatasetError`` too, which a catalog load raises as it is).
    """
    integrity.verify_sha256(
        what, expected=expected, actual=actual, error=ArtifactIntegrityError
    )
