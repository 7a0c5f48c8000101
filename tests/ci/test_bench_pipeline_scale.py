"""bench/pipeline_scale.py reads each node's time and peak from kedro run's log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture
def pipeline_scale(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("pipeline_scale")


def test_node_seconds_come_from_the_run_logs_progress_lines(
    pipeline_scale, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from reelops.run_log import ProgressHook

    # GIVEN the progress lines reelops' run log prints for finished nodes
    progress = ProgressHook()
    progress._total = 36
    progress._stage_of = {"blend.fit_candidate_node": "training"}
    caplog.set_level(logging.INFO, logger="reelops.memory")
    with caplog.at_level(logging.INFO, logger="reelops.progress"):
        for name in ("blend.fit_candidate_node", "orphan_node"):
            progress._start(SimpleNamespace(name=name))
            progress._started[name] -= 1234.5
            progress._finish(SimpleNamespace(name=name))
    log = "kedro run: pipeline __default__\n" + "\n".join(
        r.getMessage() for r in caplog.records
    )
    # THEN each finished node's seconds are read, with or without a stage name
    seconds = pipeline_scale.node_seconds(log)
    assert set(seconds) == {"blend.fit_candidate_node", "orphan_node"}
    assert seconds["blend.fit_candidate_node"] == pytest.approx(1234.5, abs=0.2)
    # AND each one's peak resident size (this process's: more than an interpreter)
    peaks = pipeline_scale.node_peaks(log)
    assert set(peaks) == set(seconds)
    assert all(0.05 < gib < 64 for gib in peaks.values()), peaks


def test_a_resumed_run_keeps_the_stages_that_finished(pipeline_scale) -> None:
    # GIVEN a run killed in training after data_processing, the first stage having
    # been run again at a later commit
    report = {
        "commit": "aaa",
        "stages": [
            {"stage": "data_processing", "wall_s": 60.0, "commit": "bbb"},
            {"stage": "split", "wall_s": 20.0},
            {"stage": "training", "error": "killed: process tree over 12.0 GiB"},
        ],
    }
    # THEN the resumed run keeps those before the kill, each with its commit
    kept = pipeline_scale.finished_stages(report)
    assert list(kept) == ["data_processing", "split"]
    assert kept["data_processing"]["commit"] == "bbb"
    assert kept["split"] == {"commit": "aaa", "stage": "split", "wall_s": 20.0}
