"""Benchmark the default ``kedro run`` on ml-latest-small, as a whole process.

Protocol: a scratch copy of the project (conf/, pipelines/, pyproject.toml; the
source is the installed editable package, so the venv is the repo's, warm), the raw
data read from ml-latest-small, a fresh MLflow SQLite store and data/ directory per
run. One warm-up run (it fills numba's on-disk cache and Python's bytecode cache
when they are cold; reported, not counted), then ``--runs`` runs, each in a fresh
scratch copy. Figures: wall time of the whole ``kedro run`` process (start-up,
the 53 tasks, MLflow logging, exit) and the run's own per-task times (the progress
lines ``kedro run`` prints), summed by stage. The goal (issue #15): median wall
<= 60 s on a quiet machine; the load average is recorded next to every run.

Usage::

    .venv/bin/python bench/kedro_run.py --out reports/bench/kedro_run.json
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import (
    QUIET,
    format_table,
    machine_info,
    ml_small_dir,
    scratch_project,
    write_json,
)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOAL_SECONDS = 60.0
#: ``[12/53] feedback_union    union_feedback_node     0.1 s``
_TASK = re.compile(r"^\[\s*(\d+)/(\d+)\]\s+(\S+)\s+(\S+)\s+([\d.]+) s$")
_DONE = re.compile(r"^done: (\d+) tasks in ([\d.]+) s$")


def parse_progress(stdout: str) -> dict[str, Any]:
    """Per-task and per-stage seconds from ``kedro run``'s progress lines."""
    tasks = []
    by_stage: dict[str, float] = defaultdict(float)
    reported = None
    for line in stdout.splitlines():
        if match := _TASK.match(line.strip()):
            _, _, stage, node, seconds = match.groups()
            tasks.append({"stage": stage, "node": node, "seconds": float(seconds)})
            by_stage[stage] += float(seconds)
        elif match := _DONE.match(line.strip()):
            reported = {"tasks": int(match[1]), "seconds": float(match[2])}
    if reported is None or reported["tasks"] != len(tasks):
        msg = (
            f"kedro run printed {len(tasks)} task lines and summary {reported}: "
            "expected one line per task and a 'done: N tasks in S s' line"
        )
        raise SystemExit(msg)
    return {
        "tasks": tasks,
        "stages_s": {k: round(v, 2) for k, v in sorted(by_stage.items())},
        "pipeline_s": reported["seconds"],
    }


def one_run(scratch: Path, movielens: Path) -> dict[str, Any]:
    """``kedro run`` (the default pipeline) in a fresh scratch project."""
    project = scratch_project(scratch)
    env = {
        **os.environ,
        **QUIET,
        "MOVIELENS_DIR": str(movielens),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "REELOPS_PROJECT_ROOT": str(project),
    }
    load = round(os.getloadavg()[0], 2)
    start = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "kedro"), "run"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise SystemExit(f"kedro run failed ({done.returncode}): {tail}")
    return {
        "wall_s": round(wall, 2),
        "load_average_1m_before": load,
        **parse_progress(done.stdout),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "reports/bench/kedro_run.json"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs")
    args = parser.parse_args(argv)
    movielens = Path(os.environ.get("MOVIELENS_DIR", ml_small_dir()))
    root = Path(tempfile.mkdtemp(prefix="reelops-kedro-run-"))
    try:
        warm_up = one_run(root / "warm-up", movielens)
        print(f"warm-up: {warm_up['wall_s']} s", flush=True)
        runs = []
        for i in range(args.runs):
            runs.append(one_run(root / f"run-{i}", movielens))
            print(f"run {i + 1}/{args.runs}: {runs[-1]['wall_s']} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    median = statistics.median(r["wall_s"] for r in runs)
    stages = sorted(runs[0]["stages_s"])
    stage_medians = {
        s: round(statistics.median(r["stages_s"][s] for r in runs), 2) for s in stages
    }
    slowest = sorted(
        ({"node": t["node"], "seconds": t["seconds"]} for t in runs[0]["tasks"]),
        key=lambda t: -t["seconds"],
    )[:5]
    summary = {
        "wall_median_s": median,
        "pipeline_median_s": statistics.median(r["pipeline_s"] for r in runs),
        "stage_task_seconds_median": stage_medians,
        "slowest_tasks_first_run": slowest,
        "goal": f"median wall of `kedro run` <= {GOAL_SECONDS:.0f} s",
        "goal_met": median <= GOAL_SECONDS,
    }
    print(format_table([[s, v] for s, v in stage_medians.items()], ["stage", "task s"]))
    print(
        f"kedro run: median {median:.1f} s wall (goal <= {GOAL_SECONDS:.0f} s: "
        f"{'met' if summary['goal_met'] else 'missed'})"
    )
    write_json(
        args.out,
        {
            "benchmark": "the default `kedro run` on ml-latest-small, whole process",
            "protocol": __doc__,
            "command": ".venv/bin/python bench/kedro_run.py",
            "machine": machine_info(),
            "summary": summary,
            "warm_up": {k: v for k, v in warm_up.items() if k != "tasks"},
            "runs": runs,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
