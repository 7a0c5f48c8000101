"""Where data came from: one digest of the raw files a run read."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["raw_data_sha256"]


def raw_data_sha256(raw_checksums: Mapping[str, str]) -> str:
    """One sha256 of the sha256 of every raw file (the run tag ``data.sha256``)."""
    return hashlib.sha256(
        "".join(f"{k}={v}\n" for k, v in sorted(raw_checksums.items())).encode()
    ).hexdigest()
