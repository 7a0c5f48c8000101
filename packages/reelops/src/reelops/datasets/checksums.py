"""``FileChecksumsDataset``: the sha256 of raw files, for lineage."""

from __future__ import annotations

import hashlib
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from reelops.datasets._download import ArchiveSource, ensure_local_file

__all__ = ["FileChecksumsDataset"]

_CHUNK = 1 << 20


class FileChecksumsDataset(AbstractDataset[dict[str, str], dict[str, str]]):
    """Load ``{name: sha256}`` for a set of files (read-only).

    Example::

        raw_checksums:
          type: reelops.datasets.FileChecksumsDataset
          filepaths:
            ratings: data/01_raw/ml-latest-small/ratings.csv
            movies: data/01_raw/ml-latest-small/movies.csv
    """

    def __init__(
        self,
        *,
        filepaths: dict[str, str],
        download: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset for ``filepaths`` (local paths or fsspec URLs)."""
        self._filepaths = dict(sorted(filepaths.items()))
        self._download = ArchiveSource(**download) if download else None
        self._credentials = credentials or {}
        self._fs_args = fs_args or {}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepaths": self._filepaths}

    def load(self) -> dict[str, str]:
        """Hash every file, streaming it in 1 MiB chunks."""
        sums: dict[str, str] = {}
        for name, filepath in self._filepaths.items():
            protocol, path = get_protocol_and_path(filepath)
            if protocol == "file" and self._download is not None:
                ensure_local_file(path, self._download)
            fs = fsspec.filesystem(protocol, **self._credentials, **self._fs_args)
            digest = hashlib.sha256()
            try:
                with fs.open(path, "rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
            except FileNotFoundError as exc:
                raise DatasetError(f"raw file not found: {filepath}") from exc
            sums[name] = digest.hexdigest()
        return sums

    def save(self, data: dict[str, str]) -> None:
        """Checksums are derived from the files; they cannot be saved."""
        raise DatasetError("FileChecksumsDataset is read-only")
