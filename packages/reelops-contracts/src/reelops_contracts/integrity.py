"""sha256 of model files: recorded when they are saved, checked before unpickling.

Unpickling runs code, so a model file is unpickled only when its bytes hash to the
sha256 recorded when it was saved: a mismatch raises one line naming the file, the
recorded and the actual digest. A file saved before digests were recorded has
none: it still loads, with a warning that names it and says how to record one.
"""

from __future__ import annotations

import hashlib
import logging

from reelops_contracts.errors import ArtifactIntegrityError

__all__ = ["sha256_bytes", "verify_sha256", "warn_unverified"]

logger = logging.getLogger(__name__)


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def warn_unverified(what: str) -> None:
    """Warn that ``what``, saved before digests were recorded, loads unverified."""
    logger.warning(
        "%s has no recorded sha256 (saved before model files were hashed): "
        "unpickling it unverified; save it again to record one",
        what,
    )


def verify_sha256(
    what: str,
    *,
    expected: str | None,
    actual: str,
    error: type[ArtifactIntegrityError] = ArtifactIntegrityError,
) -> None:
    """Refuse ``what`` when its sha256 is not the recorded one.

    ``expected=None`` (nothing recorded: saved before digests were) only warns.

    Args:
        what: The file, as the message names it.
        expected: The recorded hex digest, if any.
        actual: The file's hex digest.
        error: The class raised (a subclass, e.g. one a Kedro catalog passes on).

    Raises:
        ArtifactIntegrityError: ``actual`` differs from ``expected``.
    """
    if expected is None:
        warn_unverified(what)
        return
    if actual != expected:
        raise error(
            f"{what}: sha256 mismatch: expected {expected}, got {actual} "
            "(refusing to unpickle)"
        )
