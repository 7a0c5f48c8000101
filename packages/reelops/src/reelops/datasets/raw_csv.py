"""``RawCSVDataset``: a raw CSV as strings, one row per record, nothing dropped."""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import fsspec
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from reelops.datasets._csv_records import count_records, read_header, record_chunks
from reelops.datasets._download import ArchiveSource, ensure_local_file
from reelops.raw_columns import LINE, PARSE_ERROR

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import BinaryIO

__all__ = ["LINE", "PARSE_ERROR", "RawCSVChunks", "RawCSVDataset", "parse_csv_bytes"]

#: Defaults of the reading limits (the catalog may override them per file).
_CHUNK_ROWS = 200_000
_CHUNK_BYTES = 32 << 20
_MAX_RECORD_BYTES = 64 << 10


def _concat(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
    frames = list(chunks)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def parse_csv_bytes(
    data: bytes,
    columns: Sequence[str],
    source: str,
    *,
    max_record_bytes: int = _MAX_RECORD_BYTES,
) -> pd.DataFrame:
    """Split a CSV file's bytes into string columns, one row per line.

    Every line after the header becomes exactly one row, so that validation can
    account for all of them (:func:`~reelops.datasets._csv_records.record_chunks`
    says how lines that cannot be split are kept). Line endings may be LF, CRLF, CR
    or mixed; a UTF-8 byte-order mark is ignored.

    Raises:
        SchemaMismatchError: the file is empty, or its header lacks a column of
            ``columns`` or has one that is not in it.
    """
    chunks = record_chunks(
        io.BytesIO(data),
        columns,
        source,
        chunk_rows=_CHUNK_ROWS,
        chunk_bytes=_CHUNK_BYTES,
        max_record_bytes=max_record_bytes,
    )
    return _concat(chunks).reset_index(drop=True)


class RawCSVChunks:
    """The records of a raw CSV file, read lazily as frames of at most ``chunk_rows``.

    Each iteration reads the file again from its start; the header was checked when
    the object was made. Every frame has the columns of :func:`parse_csv_bytes`.
    """

    def __init__(
        self,
        open_file: Callable[[], BinaryIO],
        columns: Sequence[str],
        source: str,
        *,
        chunk_rows: int,
        chunk_bytes: int,
        max_record_bytes: int,
    ) -> None:
        """Check the header now; the records are read when iterated."""
        self._open = open_file
        self._columns = list(columns)
        self._source = source
        self._limits = {
            "chunk_rows": chunk_rows,
            "chunk_bytes": chunk_bytes,
            "max_record_bytes": max_record_bytes,
        }
        with self._open() as stream:
            read_header(stream, self._columns, source, max_record_bytes)

    @property
    def source(self) -> str:
        """The file's name, as quarantine rows and error messages cite it."""
        return self._source

    def __len__(self) -> int:
        """The number of records, counted by reading the file's lines again."""
        with self._open() as stream:
            return count_records(
                stream,
                self._columns,
                self._source,
                max_record_bytes=self._limits["max_record_bytes"],
            )

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """The frames of the file, in order (at least one, maybe empty)."""
        with self._open() as stream:
            yield from record_chunks(
                stream, self._columns, self._source, **self._limits
            )


class RawCSVDataset(AbstractDataset[pd.DataFrame, pd.DataFrame | RawCSVChunks]):
    """Load a raw CSV with every field as a string, validated only for its header.

    The file is read as a stream: with ``chunk_rows`` set, :meth:`load` returns a
    :class:`RawCSVChunks` that reads it lazily, a frame of at most ``chunk_rows``
    records (and about ``chunk_bytes``) at a time; without, one frame. A line longer
    than ``max_record_bytes`` is never held in memory: it becomes a row saying so.
    Local files that are missing are fetched from ``download`` (an archive whose
    members are checked against pinned sha256 sums) when it is configured.

    Example::

        raw_ratings:
          type: reelops.datasets.RawCSVDataset
          filepath: data/01_raw/ml-latest-small/ratings.csv
          columns: [userId, movieId, rating, timestamp]
          chunk_rows: 200000
    """

    def __init__(
        self,
        *,
        filepath: str,
        columns: list[str],
        chunk_rows: int | None = None,
        chunk_bytes: int = _CHUNK_BYTES,
        max_record_bytes: int = _MAX_RECORD_BYTES,
        download: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Local path or fsspec URL (``s3://...``) of the CSV file.
            columns: The header the file must have, in any order.
            chunk_rows: Load lazily, this many records per frame at most.
            chunk_bytes: With ``chunk_rows``, also end a frame after about this
                many bytes of records.
            max_record_bytes: Longer lines are not parsed (nor held in memory).
            download: Optional :class:`ArchiveSource` fields used when a local file
                is missing.
            credentials: fsspec credentials (e.g. S3 keys).
            fs_args: Extra fsspec filesystem arguments.
            metadata: Free-form metadata (for kedro-viz and plugins).
        """
        for name, value in {
            "chunk_rows": chunk_rows,
            "chunk_bytes": chunk_bytes,
            "max_record_bytes": max_record_bytes,
        }.items():
            if value is not None and (isinstance(value, bool) or value < 1):
                raise DatasetError(
                    f"RawCSVDataset: {name} must be a positive integer, "
                    f"got {value!r} instead"
                )
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._columns = list(columns)
        self._chunk_rows = chunk_rows
        self._chunk_bytes = chunk_bytes
        self._max_record_bytes = max_record_bytes
        self._download = ArchiveSource(**download) if download else None
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **(fs_args or {}))
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "protocol": self._protocol,
            "columns": self._columns,
            "chunk_rows": self._chunk_rows,
            "max_record_bytes": self._max_record_bytes,
        }

    def _open(self) -> BinaryIO:
        path = str(self._filepath)
        try:
            return self._fs.open(path, "rb")
        except FileNotFoundError as exc:
            raise DatasetError(
                f"raw file not found: {path} (set MOVIELENS_DIR to a directory "
                "holding the MovieLens CSV files)"
            ) from exc

    def load(self) -> pd.DataFrame | RawCSVChunks:
        """The file's records as string columns (see :func:`parse_csv_bytes`).

        Raises:
            SchemaMismatchError: the file is empty or its header is not ``columns``.
        """
        if self._protocol == "file" and self._download is not None:
            ensure_local_file(str(self._filepath), self._download)
        chunks = RawCSVChunks(
            self._open,
            self._columns,
            self._filepath.name,
            chunk_rows=self._chunk_rows or _CHUNK_ROWS,
            chunk_bytes=self._chunk_bytes,
            max_record_bytes=self._max_record_bytes,
        )
        if self._chunk_rows is None:
            return _concat(chunks).reset_index(drop=True)
        return chunks

    def save(self, data: pd.DataFrame) -> None:
        """Raw data is read-only."""
        raise DatasetError(f"{self._filepath}: raw data is read-only")

    def _exists(self) -> bool:
        return bool(self._fs.exists(str(self._filepath)))
