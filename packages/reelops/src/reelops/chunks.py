"""Lazy, re-iterable sequences of frames: how nodes pass tables too big for memory.

A node given a :class:`~reelops.datasets.raw_csv.RawCSVChunks` returns
:class:`SplitChunks`: nothing is read until a dataset saves them
(:class:`~reelops.datasets.chunked_parquet.ChunkedParquetDataset` writes a frame at
a time), so memory holds one chunk, whatever the size of the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import TypeAlias

    #: Validates one raw chunk into (valid rows, quarantined rows).
    Check: TypeAlias = Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]

__all__ = ["ChainedChunks", "SplitChunks", "count_rows", "frames", "split_chunks"]


def frames(data: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    """``data`` as frames: a frame alone, or the frames of an iterable."""
    return [data] if isinstance(data, pd.DataFrame) else data


def count_rows(data: pd.DataFrame | Iterable[pd.DataFrame]) -> int:
    """The rows of a frame or of lazy frames (``len`` when they know it)."""
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return sum(len(frame) for frame in frames(data))


class SplitChunks:
    """One side, valid (0) or quarantined (1), of chunks validated one by one.

    Each iteration validates the chunks again, in order, with a check made afresh
    by ``make_check`` (so state across chunks, such as the pairs seen so far,
    starts empty): two sides of the same chunks always partition the same rows.
    """

    def __init__(
        self,
        chunks: Iterable[pd.DataFrame],
        make_check: Callable[[], Check],
        side: int,
    ) -> None:
        """Keep the chunks and how to check them; nothing is read yet."""
        self._chunks = chunks
        self._make_check = make_check
        self._side = side

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """This side of every chunk, in order (a frame per chunk, maybe empty)."""
        check = self._make_check()
        for raw in self._chunks:
            yield check(raw)[self._side]


def split_chunks(
    chunks: Iterable[pd.DataFrame],
    make_check: Callable[[], Check],
) -> tuple[SplitChunks, SplitChunks]:
    """The valid and the quarantined rows of ``chunks``, both lazy."""
    return SplitChunks(chunks, make_check, 0), SplitChunks(chunks, make_check, 1)


class ChainedChunks:
    """The frames of several frames or lazy frames, one after the other."""

    def __init__(
        self,
        parts: Iterable[pd.DataFrame | Iterable[pd.DataFrame]],
        transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> None:
        """Keep the parts (and what to apply to each frame); nothing is read yet."""
        self._parts = list(parts)
        self._transform = transform

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """Every frame of every part, in order."""
        for part in self._parts:
            for frame in frames(part):
                yield self._transform(frame) if self._transform else frame
