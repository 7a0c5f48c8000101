"""``RawCSVDataset``: a raw CSV as strings, one row per record, nothing dropped."""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from reelops.datasets._download import ArchiveSource, ensure_local_file
from reelops.errors import SchemaMismatchError
from reelops.raw_columns import LINE, PARSE_ERROR

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LINE", "PARSE_ERROR", "RawCSVDataset", "parse_csv_bytes"]

_REPLACEMENT = "\ufffd"


def _check_header(header: list[str], columns: Sequence[str], source: str) -> None:
    expected = ",".join(columns)
    got = ",".join(header)
    for col in columns:
        if col not in header:
            raise SchemaMismatchError(
                f"{source}: missing column '{col}' "
                f"(expected header '{expected}', got '{got}')"
            )
    for col in header:
        if col not in columns:
            raise SchemaMismatchError(
                f"{source}: unexpected column '{col}' "
                f"(expected header '{expected}', got '{got}')"
            )
    if len(set(header)) != len(header):
        raise SchemaMismatchError(
            f"{source}: duplicate column in header (expected '{expected}', got '{got}')"
        )


def _read_records(data: bytes, header: list[str]) -> pd.DataFrame:
    """Parse with pyarrow, keeping each malformed record as a row with its error."""
    bad: list[tuple[int, str, str]] = []

    def keep_invalid(row: pv.InvalidRow) -> str:
        bad.append(
            (
                int(row.number or 0),
                row.text,
                f"expected {row.expected_columns} fields, got {row.actual_columns}",
            )
        )
        return "skip"

    table = pv.read_csv(
        io.BytesIO(data),
        read_options=pv.ReadOptions(
            use_threads=False, column_names=header, skip_rows=1
        ),
        parse_options=pv.ParseOptions(
            invalid_row_handler=keep_invalid, ignore_empty_lines=False
        ),
        convert_options=pv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    frame = table.to_pandas()
    for col in header:
        frame[col] = frame[col].astype(object)
    total = len(frame) + len(bad)
    bad_lines = {line for line, _, _ in bad}
    frame[LINE] = [n for n in range(2, total + 2) if n not in bad_lines][: len(frame)]
    frame[PARSE_ERROR] = ""
    if bad:
        rows = pd.DataFrame(
            [[text, *[""] * (len(header) - 1)] for _, text, _ in bad],
            columns=header,
            dtype=object,
        )
        rows[LINE] = [line for line, _, _ in bad]
        rows[PARSE_ERROR] = [err for _, _, err in bad]
        frame = pd.concat([frame, rows], ignore_index=True).sort_values(
            LINE, kind="stable"
        )
    return frame


def parse_csv_bytes(data: bytes, columns: Sequence[str], source: str) -> pd.DataFrame:
    """Split a CSV file's bytes into string columns, one row per record.

    Every record of the file becomes exactly one row, so that validation can account
    for all of them: records with the wrong number of fields keep their raw text in the
    first column and say why in :data:`PARSE_ERROR`; blank lines become empty rows;
    bytes that are not UTF-8 become U+FFFD (validation quarantines those rows).
    Line endings may be LF, CRLF, CR or mixed; a UTF-8 byte-order mark is ignored.
    Line numbers assume one record per line (MovieLens has no quoted newlines).

    Raises:
        SchemaMismatchError: the file is empty, or its header lacks a column of
            ``columns`` or has one that is not in it.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        data = text.encode("utf-8")
    data = data.removeprefix(b"\xef\xbb\xbf")
    text = text.removeprefix("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        raise SchemaMismatchError(
            f"{source}: empty file (expected header '{','.join(columns)}')"
        )
    header = next(csv.reader([first]))
    header = [h.strip() for h in header]
    _check_header(header, columns, source)
    frame = _read_records(data, header)[[*columns, LINE, PARSE_ERROR]]
    fields = frame[list(columns)]
    unparsed = frame[PARSE_ERROR] == ""
    blank = (fields == "").all(axis=1)
    frame.loc[blank & unparsed, PARSE_ERROR] = "blank line"
    bad_bytes = fields.apply(lambda s: s.str.contains(_REPLACEMENT)).any(axis=1)
    frame.loc[bad_bytes & unparsed, PARSE_ERROR] = "bytes that are not valid UTF-8"
    return frame.reset_index(drop=True)


class RawCSVDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Load a raw CSV with every field as a string, validated only for its header.

    Local files that are missing are fetched from ``download`` (an archive whose
    members are checked against pinned sha256 sums) when it is configured.

    Example::

        raw_ratings:
          type: reelops.datasets.RawCSVDataset
          filepath: data/01_raw/ml-latest-small/ratings.csv
          columns: [userId, movieId, rating, timestamp]
    """

    def __init__(
        self,
        *,
        filepath: str,
        columns: list[str],
        download: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Local path or fsspec URL (``s3://...``) of the CSV file.
            columns: The header the file must have, in any order.
            download: Optional :class:`ArchiveSource` fields used when a local file
                is missing.
            credentials: fsspec credentials (e.g. S3 keys).
            fs_args: Extra fsspec filesystem arguments.
            metadata: Free-form metadata (for kedro-viz and plugins).
        """
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._columns = list(columns)
        self._download = ArchiveSource(**download) if download else None
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **(fs_args or {}))
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "protocol": self._protocol,
            "columns": self._columns,
        }

    def load(self) -> pd.DataFrame:
        """Read the file and split it into string columns (:func:`parse_csv_bytes`)."""
        path = str(self._filepath)
        if self._protocol == "file" and self._download is not None:
            ensure_local_file(path, self._download)
        try:
            with self._fs.open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError as exc:
            raise DatasetError(
                f"raw file not found: {path} (set MOVIELENS_DIR to a directory "
                "holding the MovieLens CSV files)"
            ) from exc
        return parse_csv_bytes(data, self._columns, self._filepath.name)

    def save(self, data: pd.DataFrame) -> None:
        """Raw data is read-only."""
        raise DatasetError(f"{self._filepath}: raw data is read-only")

    def _exists(self) -> bool:
        return bool(self._fs.exists(str(self._filepath)))
