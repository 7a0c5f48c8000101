"""Request profiling: buffered off the request path, flushed by size, time, shutdown."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from reelops_contracts import REQUEST_PROFILE_COLUMNS, STATUS_PROFILE_COLUMNS
from reelops_serving.profile_sinks import (
    ParquetProfileSink,
    WhylogsProfileSink,
    make_profile_sink,
)
from reelops_serving.profiling import RequestProfiler


class MemorySink:
    def __init__(self) -> None:
        self.batches: list[pd.DataFrame] = []
        self.event = threading.Event()

    def write(
        self, batch: pd.DataFrame, *, window_start: datetime, window_end: datetime
    ) -> str:
        assert window_start <= window_end
        self.batches.append(batch)
        self.event.set()
        return f"memory://{len(self.batches)}"


def record(profiler: RequestProfiler, n: int = 1, **over: Any) -> None:
    row = {
        "endpoint": "/recommend",
        "user_activity": "heavy",
        "k": 10,
        "genres": ["Drama", "War"],
        "exclude_seen": True,
        "cold_start": False,
        "n_items": 10,
        "top_score": 0.9,
        "latency_ms": 1.5,
        **over,
    }
    for _ in range(n):
        profiler.record(**row)


def test_flushes_when_the_buffer_reaches_its_size() -> None:
    sink = MemorySink()
    profiler = RequestProfiler(
        sink, flush_interval_seconds=3600, flush_max_rows=5
    ).start()
    try:
        record(profiler, 5)
        assert sink.event.wait(10)
        batch = sink.batches[0]
        assert list(batch.columns) == list(REQUEST_PROFILE_COLUMNS)
        assert len(batch) == 5
        assert batch["genres"].iloc[0] == "Drama|War"
        assert batch["n_genres"].iloc[0] == 2
    finally:
        profiler.close()


def test_flushes_every_interval_and_on_close() -> None:
    sink = MemorySink()
    profiler = RequestProfiler(
        sink, flush_interval_seconds=0.2, flush_max_rows=10**6
    ).start()
    record(profiler, 3)
    assert sink.event.wait(10)
    record(profiler, 2, cold_start=True, user_activity="unknown")
    profiler.close()
    assert sum(len(b) for b in sink.batches) == 5
    assert sink.batches[-1]["cold_start"].tolist() == [True, True]


def test_a_full_buffer_drops_rows_instead_of_growing() -> None:
    sink = MemorySink()
    profiler = RequestProfiler(sink, flush_max_rows=10**6, max_buffer_rows=3)
    record(profiler, 5)
    assert profiler.dropped == 2
    profiler.close()
    assert len(sink.batches[0]) == 3


def test_a_failing_sink_loses_the_batch_not_the_service() -> None:
    class Broken:
        def write(self, batch: pd.DataFrame, **_: Any) -> str:
            raise OSError("bucket gone")

    profiler = RequestProfiler(Broken())
    record(profiler, 2)
    assert profiler.flush() is None
    record(profiler, 1)
    profiler.close()  # does not raise


def test_recording_is_cheap() -> None:
    profiler = RequestProfiler(MemorySink())
    started = time.perf_counter()
    record(profiler, 20_000)
    per_call = (time.perf_counter() - started) / 20_000
    assert per_call < 50e-6  # microseconds, not I/O
    profiler.close()


def test_parquet_sink_writes_one_file_per_flush_by_day(tmp_path: Path) -> None:
    sink = ParquetProfileSink(str(tmp_path / "profiles"))
    batch = pd.DataFrame({"k": [1, 2]})
    start = datetime(2024, 5, 6, 7, 8, 9)
    first = sink.write(batch, window_start=start, window_end=start)
    second = sink.write(batch, window_start=start, window_end=start)
    assert first != second
    assert Path(first).parent == tmp_path / "profiles" / "2024-05-06"
    assert pd.read_parquet(first)["k"].tolist() == [1, 2]


def test_whylogs_sink_calls_the_adapter_once_per_flush(tmp_path: Path) -> None:
    calls: list[tuple[int, datetime]] = []

    def profile_frame(frame: pd.DataFrame, *, dataset_timestamp: datetime) -> bytes:
        calls.append((len(frame), dataset_timestamp))
        return b"profile-bytes"

    sink = WhylogsProfileSink(str(tmp_path), profile_frame)
    start = datetime(2024, 1, 2, 3, 4, 5)
    path = sink.write(
        pd.DataFrame({"k": [1, 2, 3]}), window_start=start, window_end=start
    )
    assert calls == [(3, start)]
    assert Path(path).read_bytes() == b"profile-bytes"
    assert path.endswith(".bin")


def test_offloaded_profiling_writes_from_a_child_process(tmp_path: Path) -> None:
    # GIVEN a profiler whose sink runs in a child process
    sink = ParquetProfileSink(str(tmp_path / "profiles"))
    profiler = RequestProfiler(sink, offload=True, flush_interval_seconds=3600).start()
    try:
        record(profiler, 3)
        # WHEN it flushes
        path = profiler.flush()
    finally:
        profiler.close()
    # THEN the child wrote the batch, named after this (parent) process
    assert path is not None
    frame = pd.read_parquet(path)
    assert len(frame) == 3
    assert f"-{os.getpid()}-" in Path(path).name


def test_sink_choice_follows_the_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    fake = SimpleNamespace(profile_frame=lambda frame, *, dataset_timestamp: b"")
    monkeypatch.setitem(sys.modules, "fake_adapter", fake)
    assert isinstance(
        make_profile_sink(str(tmp_path), adapter="fake_adapter"), WhylogsProfileSink
    )
    monkeypatch.setitem(sys.modules, "fake_adapter", SimpleNamespace())
    assert isinstance(
        make_profile_sink(str(tmp_path), adapter="fake_adapter"), ParquetProfileSink
    )
    assert isinstance(
        make_profile_sink(str(tmp_path), adapter="no_such_module_here"),
        ParquetProfileSink,
    )


def test_the_monitoring_adapter_profiles_a_batch_into_a_mergeable_view(
    tmp_path: Path,
) -> None:
    from reelops_monitoring import adapter

    sink = make_profile_sink(str(tmp_path))
    assert isinstance(sink, WhylogsProfileSink)
    profiler = RequestProfiler(sink)
    record(profiler, 4)
    path = profiler.flush()
    assert path is not None
    view = adapter.deserialize_view(Path(path).read_bytes())
    merged = adapter.merge_views([view, view])
    assert adapter.row_count(merged) == 8


def test_service_writes_a_profile_after_traffic(
    client: Any, serving_env: dict[str, str]
) -> None:
    from bentoml import get_current_service

    for user in (1, 2, 999_999):
        client.post("/recommend", json={"user_id": user, "k": 3, "genres": ["Comedy"]})
    client.post("/recommend_batch", json={"user_ids": [3, 4], "k": 2})
    service = get_current_service()
    path = service.profiler.flush()
    assert path is not None
    assert Path(path).is_relative_to(serving_env["REELOPS_PROFILE_PATH"])


def test_status_rows_hold_every_answer_and_each_endpoints_latency() -> None:
    # GIVEN a status profiler
    sink = MemorySink()
    profiler = RequestProfiler(sink, columns=STATUS_PROFILE_COLUMNS)
    # WHEN a good /recommend, a malformed /predict and a failing /feedback answer
    profiler.record_status("/recommend", 200, 3.0)
    profiler.record_status("/predict", 422, 1.0)
    profiler.record_status("/feedback", 503, 40.0)
    profiler.flush()
    (batch,) = sink.batches
    # THEN each is a row with its status class, and its latency in its column
    assert list(batch.columns) == list(STATUS_PROFILE_COLUMNS)
    assert batch["status"].tolist() == [200, 422, 503]
    assert batch["status_class"].tolist() == ["2xx", "4xx", "5xx"]
    assert batch["latency_ms_recommend"].tolist()[0] == 3.0
    assert batch["latency_ms_recommend"].isna().tolist() == [False, True, True]
    assert batch["latency_ms_feedback"].tolist()[2] == 40.0


def test_service_profiles_the_status_of_every_answer(
    client: Any, serving_env: dict[str, str]
) -> None:
    from bentoml import get_current_service

    service = get_current_service()
    # GIVEN answers of each kind: good, malformed (422), unknown route (not an
    # API endpoint: not profiled)
    client.post("/recommend", json={"user_id": 1, "k": 3})
    client.post("/predict", json={"user_id": "one", "movie_id": 1})
    client.post("/nope", json={})
    # WHEN the status profiler flushes
    path = service.status_profiler.flush()
    # THEN a status-... file holds them, by status class
    assert path is not None
    assert Path(path).name.startswith("status-")
    from reelops_monitoring import deserialize_view
    from reelops_monitoring.adapter import frequent_items

    view = deserialize_view(Path(path).read_bytes())
    classes = frequent_items(view, "status_class")
    assert classes.get("2xx", 0) >= 1
    assert classes.get("4xx", 0) >= 1
    endpoints = frequent_items(view, "endpoint")
    assert "/nope" not in endpoints and "other" not in endpoints
