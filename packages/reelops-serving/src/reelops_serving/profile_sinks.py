"""Where request profiles go: one file per flush, whylogs or Parquet.

Sinks write one file per flush under ``<path>/<yyyy-mm-dd>/`` (any fsspec URL: a
local directory, ``s3://...``), named ``<prefix>-...``: ``requests`` for answered
recommendations, ``status`` for every API answer's status and latency.
:func:`make_profile_sink` picks the whylogs sink when the monitoring adapter
``reelops_monitoring.profile_frame`` is installed (whylogs profiles: mergeable, no
raw data) and the Parquet sink otherwise.

Sinks are picklable and stateless between writes, so that the profiler can run
them in a child process (:func:`write_rows`); this module imports nothing of the
service (no metrics), which keeps that child light.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import uuid
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import fsspec
import pandas as pd

from reelops_contracts import REQUEST_PROFILE_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

__all__ = [
    "ParquetProfileSink",
    "ProfileFrame",
    "ProfileSink",
    "WhylogsProfileSink",
    "ignore_termination",
    "make_profile_sink",
    "write_rows",
]

logger = logging.getLogger(__name__)


class ProfileFrame(Protocol):
    """The monitoring adapter's profiler: a batch in, serialized profile out.

    ``reelops_monitoring.profile_frame(frame, dataset_timestamp=ts) -> bytes``
    returns a serialized, mergeable whylogs profile view of ``frame``.
    """

    def __call__(self, frame: pd.DataFrame, *, dataset_timestamp: datetime) -> bytes:
        """Profile ``frame``; return the serialized profile."""
        ...


@runtime_checkable
class ProfileSink(Protocol):
    """Where flushed batches go; returns the location it wrote."""

    def write(
        self, batch: pd.DataFrame, *, window_start: datetime, window_end: datetime
    ) -> str:
        """Persist ``batch`` (requests received in ``[window_start, window_end]``)."""
        ...


class _FileSink:
    """One file per flush, named after the window, the host, the process, a nonce."""

    suffix = ".bin"

    def __init__(self, path: str, *, prefix: str = "requests") -> None:
        self._fs, self._root = fsspec.core.url_to_fs(path)
        self.path = path
        self.prefix = prefix
        self._prefix = f"{socket.gethostname()}-{os.getpid()}"

    def _target(self, window_start: datetime) -> str:
        day = window_start.strftime("%Y-%m-%d")
        stamp = window_start.strftime("%Y%m%dT%H%M%S")
        directory = f"{self._root.rstrip('/')}/{day}"
        self._fs.makedirs(directory, exist_ok=True)
        nonce = uuid.uuid4().hex[:8]
        name = f"{self.prefix}-{stamp}-{self._prefix}-{nonce}{self.suffix}"
        return f"{directory}/{name}"


class ParquetProfileSink(_FileSink):
    """Write each batch as a Parquet file (until the whylogs adapter is installed)."""

    suffix = ".parquet"

    def write(
        self, batch: pd.DataFrame, *, window_start: datetime, window_end: datetime
    ) -> str:
        """Write ``batch`` as one Parquet file under ``<path>/<day>/``.

        Returns:
            The file written.
        """
        target = self._target(window_start)
        with self._fs.open(target, "wb") as handle:
            batch.to_parquet(handle, index=False)
        return target


class WhylogsProfileSink(_FileSink):
    """Write each batch as a serialized whylogs profile (mergeable ``.bin``).

    Args:
        path: Directory or fsspec URL.
        profile_frame: The monitoring adapter's ``profile_frame``.
    """

    suffix = ".bin"

    def __init__(
        self, path: str, profile_frame: ProfileFrame, *, prefix: str = "requests"
    ) -> None:
        super().__init__(path, prefix=prefix)
        self._profile_frame = profile_frame

    def write(
        self, batch: pd.DataFrame, *, window_start: datetime, window_end: datetime
    ) -> str:
        """Profile ``batch`` with the adapter and write the serialized profile."""
        data = self._profile_frame(batch, dataset_timestamp=window_start)
        target = self._target(window_start)
        with self._fs.open(target, "wb") as handle:
            handle.write(data)
        return target


def make_profile_sink(
    path: str, *, adapter: str = "reelops_monitoring", prefix: str = "requests"
) -> ProfileSink:
    """The whylogs sink when ``<adapter>.profile_frame`` exists, else Parquet.

    ``prefix`` starts every file name (``requests``, ``status``).

    The adapter is looked up at run time: serving never imports whylogs itself
    (only the monitoring adapter may), and runs without it.
    """
    try:
        module = importlib.import_module(adapter)
    except ImportError:
        module = None
    profile_frame = getattr(module, "profile_frame", None)
    if callable(profile_frame):
        return WhylogsProfileSink(path, profile_frame, prefix=prefix)
    logger.info("%s.profile_frame not available: profiling to Parquet", adapter)
    return ParquetProfileSink(path, prefix=prefix)


def write_rows(
    sink: ProfileSink,
    rows: Sequence[tuple[object, ...]],
    window_start: datetime,
    window_end: datetime,
    columns: Sequence[str] = REQUEST_PROFILE_COLUMNS,
) -> str:
    """Build the batch of ``rows`` and hand it to ``sink`` (runs in the child)."""
    batch = pd.DataFrame.from_records(list(rows), columns=list(columns))
    return sink.write(batch, window_start=window_start, window_end=window_end)


def ignore_termination() -> None:
    """Initializer of the profiling child: leave SIGTERM and SIGINT to the parent.

    A server stopping sends SIGTERM to its whole process tree; the child must live
    on until the parent has flushed the last batch through it and closes it.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
