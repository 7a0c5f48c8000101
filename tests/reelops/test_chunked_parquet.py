"""``ChunkedParquetDataset``: one parquet file from a frame or a stream of frames."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from kedro.io.core import DatasetError

from reelops.datasets.chunked_parquet import ChunkedParquetDataset

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def chunks(n: int, size: int) -> Iterator[pd.DataFrame]:
    for i in range(n):
        yield pd.DataFrame(
            {
                "line": pd.Series(range(i * size, (i + 1) * size), dtype="int64"),
                "reason": pd.Series([f"r{i}"] * size, dtype="str"),
            }
        )


def test_a_stream_of_frames_is_one_file_read_whole_or_lazily(tmp_path: Path) -> None:
    # GIVEN an empty first chunk (it cannot tell a string column) then three
    path = tmp_path / "out" / "q.parquet"
    dataset = ChunkedParquetDataset(filepath=str(path))
    dataset.save(iter([next(chunks(1, 0)), *chunks(3, 4)]))
    # THEN one file holds them all, in order, and nothing else is left
    whole = dataset.load()
    assert whole["line"].tolist() == list(range(12))
    assert whole["reason"].tolist() == ["r0"] * 4 + ["r1"] * 4 + ["r2"] * 4
    assert [p.name for p in path.parent.iterdir()] == ["q.parquet"]
    lazy = ChunkedParquetDataset(filepath=str(path), lazy=True, batch_rows=5).load()
    assert len(lazy) == 12
    assert [len(f) for f in lazy] == [5, 5, 2]
    pd.testing.assert_frame_equal(pd.concat(list(lazy), ignore_index=True), whole)


def test_a_frame_or_nothing_saves_too(tmp_path: Path) -> None:
    dataset = ChunkedParquetDataset(filepath=str(tmp_path / "f.parquet"), lazy=True)
    dataset.save(next(chunks(1, 3)))
    assert len(dataset.load()) == 3
    dataset.save(iter([next(chunks(1, 0))]))
    [frame] = list(dataset.load())
    assert frame.empty
    assert list(frame.columns) == ["line", "reason"]


def test_a_failed_stream_leaves_the_previous_file(tmp_path: Path) -> None:
    # GIVEN a saved file, then a stream that fails half way
    path = tmp_path / "f.parquet"
    dataset = ChunkedParquetDataset(filepath=str(path))
    dataset.save(next(chunks(1, 3)))

    def failing() -> Iterator[pd.DataFrame]:
        yield from chunks(2, 3)
        yield "not a frame"  # type: ignore[misc]

    # WHEN saved THEN the error names the problem and the old file is intact
    with pytest.raises(
        DatasetError,
        match=re.escape(f"{path}: can only save pandas DataFrames, got a str instead"),
    ):
        dataset.save(failing())
    assert len(dataset.load()) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["f.parquet"]


def test_a_whole_load_equals_pandas_read_parquet(tmp_path: Path) -> None:
    # GIVEN row groups of NumPy, nullable and string columns, one of them with NaN
    path = tmp_path / "mixed.parquet"
    frames = [
        pd.DataFrame(
            {
                "id": pd.Series([i, i + 1], dtype="int32"),
                "year": pd.array([1995, None if i else 2000], dtype="Int16"),
                "score": [0.5, float("nan") if i == 2 else 1.0],
                "title": pd.Series([f"t{i}", f"u{i}"], dtype="str"),
            }
        )
        for i in range(3)
    ]
    ChunkedParquetDataset(filepath=str(path)).save(iter(frames))
    # WHEN loaded whole THEN the frame is the one pandas reads, dtypes included
    loaded = ChunkedParquetDataset(filepath=str(path)).load()
    pd.testing.assert_frame_equal(loaded, pd.read_parquet(path))
    assert [str(t) for t in loaded.dtypes] == ["int32", "Int16", "float64", "str"]
