"""The raw CSV reader: one row per line, in bounded memory, whatever the bytes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.io.core import DatasetError

from reelops.datasets import _csv_records
from reelops.datasets._csv_records import count_records, record_chunks
from reelops.datasets.raw_csv import RawCSVDataset
from reelops.errors import SchemaMismatchError
from reelops.raw_columns import LINE, PARSE_ERROR

COLUMNS = ["userId", "movieId", "rating", "timestamp"]
HEADER = b"userId,movieId,rating,timestamp"
# Every kind of line the reader tells apart, with LF, CRLF and CR endings and no
# final line ending.
MIXED = (
    HEADER
    + b"\r\n1,1,4.0,964982703\r\n"
    + b'2,2,"3.5",964982704\r'
    + b"\n"
    + b'3,"3,4.0,964982705\n'
    + b"4,4,4.0\r"
    + b",,,\n"
    + b"\n"
    + b"5,5,\xff,964982706\r\n"
    + b"6,6,"
    + b"9" * 300
    + b"\n"
    + b"7,7,2.0,964982707"
)
EXPECTED = [
    (2, ["1", "1", "4.0", "964982703"], ""),
    (3, ["2", "2", "3.5", "964982704"], ""),
    (
        4,
        ['3,"3,4.0,964982705', "", "", ""],
        "unclosed quote (a quoted field must end on its own line)",
    ),
    (5, ["4,4,4.0", "", "", ""], "expected 4 fields, got 3"),
    (6, ["", "", "", ""], "blank line"),
    (7, ["", "", "", ""], "blank line"),
    (8, ["5", "5", "\ufffd", "964982706"], "bytes that are not valid UTF-8"),
    (
        9,
        ["6,6," + "9" * 196 + "\u2026", "", "", ""],
        "record longer than 256 bytes (got 304)",
    ),
    (10, ["7", "7", "2.0", "964982707"], ""),
]


def rows(frames: list[pd.DataFrame]) -> list[tuple[int, list[str], str]]:
    frame = pd.concat(frames, ignore_index=True)
    return [
        (int(line), [str(v) for v in fields], str(error))
        for line, fields, error in zip(
            frame[LINE],
            frame[COLUMNS].to_numpy().tolist(),
            frame[PARSE_ERROR],
            strict=True,
        )
    ]


def read(data: bytes, **limits: int) -> list[pd.DataFrame]:
    options = {"chunk_rows": 1000, "chunk_bytes": 1 << 20, "max_record_bytes": 256}
    return list(
        record_chunks(io.BytesIO(data), COLUMNS, "ratings.csv", **options | limits)
    )


def test_every_line_is_one_row_with_its_number_and_reason() -> None:
    assert rows(read(MIXED)) == EXPECTED


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13, 64])
def test_read_blocks_do_not_change_the_rows(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN reads of a few bytes, so that a CRLF, a quote or an overlong line
    # straddles two reads
    monkeypatch.setattr(_csv_records, "_BLOCK", block)
    # THEN the rows are those of one read
    assert rows(read(MIXED)) == EXPECTED
    assert count_records(
        io.BytesIO(MIXED), COLUMNS, "ratings.csv", max_record_bytes=256
    ) == len(EXPECTED)


@pytest.mark.parametrize("chunk_rows", [1, 2, 4, 9, 10])
def test_chunks_hold_at_most_chunk_rows_and_number_lines_on(chunk_rows: int) -> None:
    frames = read(MIXED, chunk_rows=chunk_rows)
    assert all(len(f) <= chunk_rows for f in frames)
    assert rows(frames) == EXPECTED


def test_chunk_bytes_ends_a_chunk_early(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN reads of 54 bytes (3 records) and chunks of 170 bytes
    monkeypatch.setattr(_csv_records, "_BLOCK", 54)
    data = HEADER + b"\n" + b"1,1,4.0,964982703\n" * 100
    frames = read(data, chunk_bytes=170)
    # THEN a chunk ends after the read that reaches 170 bytes: 10 to 12 records
    assert all(10 <= len(f) <= 12 for f in frames[:-1])
    assert pd.concat(frames)[LINE].tolist() == list(range(2, 102))


def test_a_header_only_file_gives_one_empty_chunk() -> None:
    [frame] = read(HEADER + b"\n")
    assert list(frame.columns) == [*COLUMNS, LINE, PARSE_ERROR]
    assert frame.empty


def test_a_2mb_field_is_quarantined_unread_and_the_next_line_parses() -> None:
    # GIVEN a 2 MB field between two valid records (reads are 1 MiB: the line
    # spans three of them) and the default 64 KiB limit
    data = HEADER + b"\n1,1,4.0,964982703\n1,2,4.0," + b"7" * 2_000_000
    data += b"\n1,3,4.0,964982705\n"
    frames = read(data, max_record_bytes=65_536)
    # THEN the record is one row saying so, with its first bytes only
    assert [(line, error) for line, _, error in rows(frames)] == [
        (2, ""),
        (3, "record longer than 65536 bytes (got 2000008)"),
        (4, ""),
    ]
    assert len(frames[0].at[1, "userId"]) == 201


def test_the_header_is_checked_when_the_dataset_loads(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"userId,movieId,timestamp\n1,1,964982703\n")
    dataset = RawCSVDataset(filepath=str(path), columns=COLUMNS, chunk_rows=10)
    # (Kedro wraps what a load raises: the message is the cause's, on its own line)
    with pytest.raises(
        DatasetError,
        match=re.escape(
            "\nratings.csv: missing column 'rating' (expected header "
            "'userId,movieId,rating,timestamp', got 'userId,movieId,timestamp')"
        ),
    ) as caught:
        dataset.load()
    assert isinstance(caught.value.__cause__, SchemaMismatchError)


def test_chunks_are_read_again_on_each_iteration(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_bytes(MIXED)
    chunks = RawCSVDataset(filepath=str(path), columns=COLUMNS, chunk_rows=4).load()
    # the record limit of the dataset is 64 KiB: line 9 is an ordinary ragged row
    first, second = rows(list(chunks)), rows(list(chunks))
    assert first == second
    assert len(chunks) == len(first) == 9
    assert first[7] == (9, ["6,6," + "9" * 300, "", "", ""], "expected 4 fields, got 3")


def test_limits_must_be_positive() -> None:
    with pytest.raises(
        Exception,
        match=re.escape("RawCSVDataset: chunk_rows must be a positive integer, got 0"),
    ):
        RawCSVDataset(filepath="ratings.csv", columns=COLUMNS, chunk_rows=0)


def test_an_empty_file_stops_with_one_line() -> None:
    with pytest.raises(
        SchemaMismatchError,
        match=re.escape(
            "ratings.csv: empty file (expected header 'userId,movieId,rating,timestamp')"
        ),
    ):
        read(b"")
