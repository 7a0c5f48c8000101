"""Request profiling off the request path: buffer rows, flush mergeable profiles.

Each answered recommendation request appends one row of features (user activity
bucket, k, genre filter, cold start, latency, top score, ...) to an in-memory
buffer; that is all the request pays. A second profiler, fed by the metrics
middleware, appends one row per API answer whatever its status
(:meth:`RequestProfiler.record_status`: endpoint, HTTP status, latency), so that
monitoring sees errors and latency too. A background thread takes the buffer every
``flush_interval_seconds``, as soon as it holds ``flush_max_rows`` rows, and once
more when the service shuts down, and hands it to a
:class:`~reelops_serving.profile_sinks.ProfileSink` (whylogs profiles through the
monitoring adapter, else Parquet). A full buffer drops rows (counted) rather than
grow without bound or slow requests down.

With ``offload`` (the default in the service) the sink runs in a child process:
profiling 10,000 rows holds the GIL for a few hundred milliseconds, which in the
serving process would stall every request of that window (a p99 tail), whereas
shipping the rows to the child costs a few milliseconds.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from reelops_contracts import REQUEST_PROFILE_COLUMNS, status_row
from reelops_serving.metrics import PROFILE_ROWS
from reelops_serving.profile_sinks import ignore_termination, write_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from reelops_serving.profile_sinks import ProfileSink

__all__ = ["RequestProfiler"]

logger = logging.getLogger(__name__)


class RequestProfiler:
    """Buffer request features; flush them to a sink from a background thread.

    Args:
        sink: Where batches go (picklable when ``offload``).
        flush_interval_seconds: Longest time a row waits in the buffer.
        flush_max_rows: Buffer size that triggers a flush right away.
        max_buffer_rows: Rows beyond this are dropped (and counted).
        offload: Run the sink in a child process instead of this one.
        write_timeout_seconds: Longest wait for one offloaded write.
        clock: Seconds since the epoch.
        columns: The rows' columns: ``REQUEST_PROFILE_COLUMNS`` (:meth:`record`)
            or ``STATUS_PROFILE_COLUMNS`` (:meth:`record_status`).
    """

    def __init__(
        self,
        sink: ProfileSink,
        *,
        flush_interval_seconds: float = 60.0,
        flush_max_rows: int = 10_000,
        max_buffer_rows: int = 200_000,
        offload: bool = False,
        write_timeout_seconds: float = 120.0,
        clock: Callable[[], float] = time.time,
        columns: Sequence[str] = REQUEST_PROFILE_COLUMNS,
    ) -> None:
        self.sink = sink
        self.columns = tuple(columns)
        self._offload = offload
        self._write_timeout = write_timeout_seconds
        self._executor: ProcessPoolExecutor | None = None
        self._interval = flush_interval_seconds
        self._flush_rows = flush_max_rows
        self._max_rows = max_buffer_rows
        self._clock = clock
        self._rows: list[tuple[object, ...]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._window_start = clock()
        self.written: list[str] = []
        self.dropped = 0

    def record(
        self,
        *,
        endpoint: str,
        user_activity: str,
        k: int,
        genres: Sequence[str],
        exclude_seen: bool,
        cold_start: bool,
        n_items: int,
        top_score: float,
        latency_ms: float,
    ) -> None:
        """Buffer one request's features (cheap: no I/O, no profiling here)."""
        row = (
            self._clock(),
            endpoint,
            user_activity,
            k,
            "|".join(genres),
            len(genres),
            exclude_seen,
            cold_start,
            n_items,
            top_score,
            latency_ms,
        )
        self._append(row)

    def record_status(self, endpoint: str, status: int, latency_ms: float) -> None:
        """Buffer one API answer (a status profiler's row; cheap, no I/O)."""
        self._append(status_row(self._clock(), endpoint, status, latency_ms))

    def _append(self, row: tuple[object, ...]) -> None:
        with self._lock:
            if len(self._rows) >= self._max_rows:
                self.dropped += 1
                PROFILE_ROWS.labels("dropped").inc()
                return
            self._rows.append(row)
            full = len(self._rows) >= self._flush_rows
        if full:
            self._wake.set()

    def start(self) -> RequestProfiler:
        """Start the flushing thread (and the child process); returns ``self``."""
        if self._offload and self._executor is None:
            self._executor = self._new_executor()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="reelops-request-profiler", daemon=True
            )
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if not self._stop.is_set():
                self.flush()

    def flush(self) -> str | None:
        """Write the buffered rows now; returns where, or ``None`` if none/failed."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
                start, end = self._window_start, self._clock()
                self._window_start = end
            if not rows:
                return None
            try:
                where = self._write(
                    rows,
                    datetime.fromtimestamp(start, UTC),
                    datetime.fromtimestamp(end, UTC),
                )
            except Exception:
                logger.exception("request profile of %d rows not written", len(rows))
                PROFILE_ROWS.labels("failed").inc(len(rows))
                return None
            PROFILE_ROWS.labels("written").inc(len(rows))
            self.written.append(where)
            logger.debug("wrote request profile of %d rows to %s", len(rows), where)
            return where

    def _write(
        self, rows: Sequence[tuple[object, ...]], start: datetime, end: datetime
    ) -> str:
        if self._executor is None:
            return write_rows(self.sink, rows, start, end, self.columns)
        try:
            future = self._executor.submit(
                write_rows, self.sink, rows, start, end, self.columns
            )
            return future.result(timeout=self._write_timeout)
        except BrokenProcessPool:
            # the child died (e.g. killed for memory): the next flush gets a new one
            self._executor = self._new_executor()
            raise

    @staticmethod
    def _new_executor() -> ProcessPoolExecutor:
        # spawn: a fresh interpreter, not a fork of a multi-threaded server
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=ignore_termination,
        )

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread, flush what is left and stop the child (on shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
