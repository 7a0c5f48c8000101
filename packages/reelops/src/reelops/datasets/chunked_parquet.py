"""``ChunkedParquetDataset``: one parquet file written, and read, a frame at a time."""

from __future__ import annotations

import posixpath
import uuid
from copy import deepcopy
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import BinaryIO

__all__ = ["ChunkedParquetDataset", "ParquetChunks"]

#: Rows per frame when a file is read lazily.
_BATCH_ROWS = 200_000


class ParquetChunks:
    """A parquet file read lazily, a frame of at most ``batch_rows`` rows at a time.

    ``len()`` is the file's row count (from its footer); each iteration reads the
    file again from its start.
    """

    def __init__(self, open_file: Callable[[], BinaryIO], batch_rows: int) -> None:
        """Read the footer now, the rows when iterated."""
        self._open = open_file
        self._batch_rows = batch_rows
        with self._open() as handle:
            self._rows = pq.ParquetFile(handle).metadata.num_rows

    def __len__(self) -> int:
        """The number of rows of the file."""
        return self._rows

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """The file's rows, in order, as frames (at least one, maybe empty)."""
        with self._open() as handle:
            parquet = pq.ParquetFile(handle)
            empty = True
            for batch in parquet.iter_batches(batch_size=self._batch_rows):
                empty = False
                yield batch.to_pandas()
            if empty:
                yield parquet.schema_arrow.empty_table().to_pandas()


def _read_frame(parquet: pq.ParquetFile) -> pd.DataFrame:
    """The whole file as a frame, in about the memory of the frame.

    Row groups are converted one at a time into columns allocated once (NumPy
    columns; others are concatenated at the end): reading the file as one Arrow
    table, then converting it, holds the data two or three times over.
    """
    rows = parquet.metadata.num_rows
    if parquet.metadata.num_row_groups <= 1:
        return parquet.read().to_pandas(split_blocks=True, self_destruct=True)
    filled: dict[str, np.ndarray] = {}
    parts: dict[str, list[pd.Series]] = {}
    columns: list[str] = []
    start = 0
    for group in range(parquet.metadata.num_row_groups):
        frame = parquet.read_row_group(group).to_pandas(
            split_blocks=True, self_destruct=True
        )
        if group == 0:
            columns = list(frame.columns)
            for col in columns:
                dtype = frame[col].dtype
                if isinstance(dtype, np.dtype) and dtype.kind != "O":
                    filled[col] = np.empty(rows, dtype=dtype)
                else:
                    parts[col] = []
        end = start + len(frame)
        for col in columns:
            if col in filled and frame[col].dtype == filled[col].dtype:
                filled[col][start:end] = frame[col].to_numpy()
            else:
                if col in filled:  # a row group disagrees: keep it as a part
                    parts[col] = [pd.Series(filled.pop(col)[:start])]
                parts[col].append(frame[col])
        start = end
        del frame
    data = {
        col: filled[col] if col in filled else pd.concat(parts[col], ignore_index=True)
        for col in columns
    }
    return pd.DataFrame(data, columns=columns, copy=False)


class _Writer:
    """Append frames to one parquet file, one row group each.

    The schema is that of the first frame with rows: an empty frame cannot tell a
    string column.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._writer: pq.ParquetWriter | None = None
        self._empty: pa.Table | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            if not len(table):
                if self._empty is None:
                    self._empty = table
                return
            self._writer = pq.ParquetWriter(self._handle, table.schema)
        elif table.schema != self._writer.schema:
            table = table.cast(self._writer.schema)
        if len(table):
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is None:
            empty = self._empty if self._empty is not None else pa.table({})
            self._writer = pq.ParquetWriter(self._handle, empty.schema)
            self._writer.write_table(empty)
        self._writer.close()


class ChunkedParquetDataset(
    AbstractDataset[
        "pd.DataFrame | Iterable[pd.DataFrame]", "pd.DataFrame | ParquetChunks"
    ]
):
    """A parquet file saved from a frame or from any iterable of frames.

    Frames are written as they come, one row group each, so that a node may return
    a lazy iterable (e.g. the valid rows of a file validated chunk by chunk) and
    memory holds one frame at a time. The file is written under a temporary name
    and moved into place once complete. ``load`` returns one frame, or with
    ``lazy: true`` a :class:`ParquetChunks`.

    Example::

        ratings_quarantine:
          type: reelops.datasets.ChunkedParquetDataset
          filepath: data/02_intermediate/quarantine/ratings.parquet
          lazy: true
    """

    def __init__(
        self,
        *,
        filepath: str,
        lazy: bool = False,
        batch_rows: int = _BATCH_ROWS,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Local path or fsspec URL (``s3://...``) of the parquet file.
            lazy: Load a :class:`ParquetChunks` instead of one frame.
            batch_rows: Rows per frame of a lazy load.
            credentials: fsspec credentials (e.g. S3 keys).
            fs_args: Extra fsspec filesystem arguments.
            metadata: Free-form metadata (for kedro-viz and plugins).
        """
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._lazy = lazy
        self._batch_rows = batch_rows
        self._fs = fsspec.filesystem(
            protocol, **deepcopy(credentials or {}), **deepcopy(fs_args or {})
        )
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "protocol": self._protocol,
            "lazy": self._lazy,
        }

    def _open(self) -> BinaryIO:
        return self._fs.open(str(self._filepath), "rb")

    def load(self) -> pd.DataFrame | ParquetChunks:
        """The whole file as a frame, or lazily with ``lazy: true``."""
        if self._lazy:
            return ParquetChunks(self._open, self._batch_rows)
        with self._open() as handle:
            return _read_frame(pq.ParquetFile(handle))

    def save(self, data: pd.DataFrame | Iterable[pd.DataFrame]) -> None:
        """Write a frame, or every frame of an iterable in order, as one file."""
        path = str(self._filepath)
        if self._protocol == "file":
            self._fs.makedirs(posixpath.dirname(path) or ".", exist_ok=True)
        partial = f"{path}.{uuid.uuid4().hex}.partial"
        frames = [data] if isinstance(data, pd.DataFrame) else data
        try:
            with self._fs.open(partial, "wb") as handle:
                writer = _Writer(handle)
                try:
                    for frame in frames:
                        if not isinstance(frame, pd.DataFrame):
                            raise DatasetError(
                                f"{path}: can only save pandas DataFrames, got a "
                                f"{type(frame).__name__} instead"
                            )
                        writer.write(frame)
                finally:
                    writer.close()
            self._fs.mv(partial, path)
        except BaseException:
            if self._fs.exists(partial):
                self._fs.rm(partial)
            raise

    def _exists(self) -> bool:
        return bool(self._fs.exists(str(self._filepath)))
