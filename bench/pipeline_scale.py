"""The default pipeline on synthetic MovieLens-shaped ratings, stage by stage.

Protocol. ``recsys.make_movielens_like(n, random_state=seed, return_movies=True)``
(default 25M ratings: 162,540 users, 59,047 movies) is written as a MovieLens
release (``ratings.csv``, ``movies.csv``, ``links.csv``, ``tags.csv`` with the
release's columns; one tag per 1,000 ratings, on rated pairs) into a scratch copy of
the project (``conf/``, ``pipelines/``, ``pyproject.toml``, a git repo, as
``tests/conftest.py`` builds one), read through ``MOVIELENS_DIR``. The default
pipeline's stages then run in order, each as its own ``kedro run --pipeline
__default__ --nodes <the stage's own nodes>`` process (a stage's own nodes: those
of ``pipelines/<stage>.yml`` that no pipeline it includes has; every dataset
between nodes is persisted, so a stage reads what the previous ones wrote);
training, packaging and reference_profile run in one process, since packaging
checks that the challenger it packages was registered by its own MLflow run. For
each stage: wall time, and peak RSS of the process tree (psutil, sampled every
0.25 s, summed over the kedro process and its children) and ``ru_maxrss`` of the
stage (``wait4``), each node's wall seconds (from the run's progress lines) and
each node's peak RSS of the kedro process (``VmHWM`` over the node's span, from
the run's log file).
A stage that fails, or whose tree passes the memory limit (it is
killed), stops the run; the stages before it are reported. ``--resume`` runs
again only the stages after the last one that finished, on the same work dir (its
data and the datasets those stages wrote), keeping their figures from ``--out``;
each stage records the commit it ran at.

The champion is chosen by RMSE, then NDCG@10 (``--params``): on these synthetic
ratings the popularity ranking has the best NDCG@10 (0.551 vs the hybrid's 0.549
at 5M) and would be served, whose refit is trivial; by RMSE the hybrid (the blend's
ratings, EASE's top-k) wins, so its two refits on every rating (the served model
and the holdout's) are measured, the heaviest path the default pipeline has.

Goal (issue 15, goal 3): the whole default pipeline on 25M synthetic ratings within
12 GiB (every stage's peak RSS), with time and peak memory per stage reported.
Timings are wall-clock on a shared 2-core machine (load average recorded).

Usage::

    .venv/bin/python bench/pipeline_scale.py --out reports/bench/pipeline_scale.json
    .venv/bin/python bench/pipeline_scale.py --n-ratings 1000000 --out /tmp/p.json
    .venv/bin/python bench/pipeline_scale.py --resume  # after a failed stage
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from _common import QUIET, SEED, machine_info, scratch_project, write_json

from recsys import make_movielens_like
from reelops.lineage import git_state

__all__ = ["finished_stages", "run_stage", "stage_nodes", "write_movielens"]

REPO = Path(__file__).resolve().parents[1]
GIB = 1024**3
GOAL_PEAK_BYTES = 12 * GIB
GOAL_N_RATINGS = 25_000_000
#: The default pipeline's stages in run order (feedback_union is part of split).
STAGES = (
    "data_processing",
    "eda",
    "features",
    "feedback_union",
    "split",
    "training",
    "packaging",
    "reference_profile",
)
#: Stages that must share a process: packaging checks that the challenger it
#: packages was registered by its own MLflow run (the training's), and the
#: reference profile logs to that run too.
SHARED_RUN = ("training", "packaging", "reference_profile")
_TAGS_EVERY = 1_000
#: A finished node in ``kedro run``'s progress lines (reelops.run_log):
#: ``[ 3/36] training  blend.fit_candidate_node  966.1 s``.
_NODE_DONE = re.compile(r"^\[\s*\d+/\d+\]\s+(?:\S+\s+)?(\S+)\s+([\d.]+) s$")
#: A finished node's peak resident size in the run's log file (reelops.run_log).
_NODE_PEAK = re.compile(r"peak RSS (\S+) ([\d.]+) GiB")
_CSV_CHUNK = 1_000_000


def write_movielens(target: Path, n_ratings: int, seed: int) -> dict[str, Any]:
    """Write a synthetic MovieLens release of ``n_ratings`` ratings to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    ratings, movies = make_movielens_like(
        n_ratings, random_state=seed, return_movies=True
    )
    with (target / "ratings.csv").open("w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        for lo in range(0, len(ratings), _CSV_CHUNK):
            chunk = ratings.iloc[lo : lo + _CSV_CHUNK]
            chunk.to_csv(out, header=False, index=False, float_format="%.1f")
    movies.rename(columns={"movie_id": "movieId"}).to_csv(
        target / "movies.csv", index=False
    )
    ids = movies["movie_id"].to_numpy()
    pd.DataFrame(
        {
            "movieId": ids,
            "imdbId": [f"{1_000_000 + i:07d}" for i in ids.tolist()],
            "tmdbId": ids + 10_000,
        }
    ).to_csv(target / "links.csv", index=False)
    picked = ratings.iloc[::_TAGS_EVERY]
    pd.DataFrame(
        {
            "userId": picked["user_id"].to_numpy(),
            "movieId": picked["movie_id"].to_numpy(),
            "tag": np.where(picked["rating"].to_numpy() >= 4.0, "liked", "meh"),
            "timestamp": picked["timestamp"].to_numpy() + 1,
        }
    ).to_csv(target / "tags.csv", index=False)
    return {
        "n_ratings": len(ratings),
        "n_users": int(ratings["user_id"].nunique()),
        "n_movies": len(movies),
        "n_tags": len(picked),
        "bytes": {p.name: p.stat().st_size for p in sorted(target.glob("*.csv"))},
    }


def stage_nodes(project: Path) -> dict[str, list[str]]:
    """Each stage's own node names (not those of the pipelines it includes).

    The stages of :data:`SHARED_RUN` come as one, named by them joined with ``+``.
    """
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    names = {s: {n.name for n in pipelines[s].nodes} for s in STAGES}
    own: dict[str, list[str]] = {}
    done: set[str] = set()
    for stage in STAGES:
        own[stage] = sorted(names[stage] - done)
        done |= names[stage]
    missing = {n.name for n in pipelines["__default__"].nodes} - done
    if missing:
        msg = f"default-pipeline nodes in no stage: expected none, got {missing}"
        raise RuntimeError(msg)
    shared = [n for stage in SHARED_RUN for n in own.pop(stage)]
    own["+".join(SHARED_RUN)] = sorted(shared)
    return own


def finished_stages(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The stages of an earlier report that finished, each with its commit.

    A stage that failed or was killed stops a run, so these are the stages before
    it; a stage without a ``commit`` of its own ran at the report's.
    """
    return {
        stage["stage"]: {"commit": report["commit"], **stage}
        for stage in report["stages"]
        if "error" not in stage
    }


def _earlier_report(path: Path) -> dict[str, Any]:
    if not path.is_file():
        msg = f"--resume needs the earlier run's report: {path} does not exist"
        raise SystemExit(msg)
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        children = proc.children(recursive=True)
    except psutil.Error:
        children = []
    for p in [proc, *children]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def node_seconds(log: str) -> dict[str, float]:
    """Each finished node's wall seconds, from a stage's progress lines."""
    found = (_NODE_DONE.match(line.strip()) for line in log.splitlines())
    return {m.group(1): float(m.group(2)) for m in found if m}


def node_peaks(log: str) -> dict[str, float]:
    """Each finished node's peak RSS of the kedro process (GiB), from its run log."""
    return {m.group(1): float(m.group(2)) for m in _NODE_PEAK.finditer(log)}


def run_stage(
    project: Path,
    stage: str,
    nodes: list[str],
    env: dict[str, str],
    *,
    limit: int,
    params: str,
) -> dict[str, Any]:
    """Run one stage's nodes in a kedro process; wall time and peak RSS."""
    cmd = [
        str(Path(sys.executable).parent / "kedro"),
        "run",
        "--pipeline",
        "__default__",
        "--nodes",
        ",".join(nodes),
        *(["--params", params] if params else []),
    ]
    log = project / f"stage-{stage}.log"
    run_logs = project / f"logs-{stage}"
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=project,
            env={**env, "REELOPS_LOG_DIR": str(run_logs)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        peak = 0
        killed = False
        done = threading.Event()

        def sample() -> None:
            nonlocal peak, killed
            ps = psutil.Process(proc.pid)
            while not done.is_set():
                rss = _tree_rss(ps)
                peak = max(peak, rss)
                if rss > limit and not killed:
                    killed = True
                    proc.kill()
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    result: dict[str, Any] = {
        "stage": stage,
        "n_nodes": len(nodes),
        "wall_s": time.perf_counter() - start,
        "peak_rss_tree_gib": peak / GIB,
        "ru_maxrss_gib": usage.ru_maxrss * 1024 / GIB,
        "exit_code": proc.returncode,
        "load_average_1min": [load, os.getloadavg()[0]],
        "node_seconds": node_seconds(log.read_text()),
        "node_peak_rss_gib": node_peaks(
            "\n".join(f.read_text() for f in sorted(run_logs.glob("run-*.log")))
        ),
    }
    if killed:
        result["error"] = f"killed: process tree over {limit / GIB:.1f} GiB"
    elif proc.returncode != 0:
        result["error"] = log.read_text()[-3000:]
    return result


def main(argv: list[str] | None = None) -> int:
    """Write the data, run every stage, write the report."""
    parser = argparse.ArgumentParser(description="Default pipeline at scale.")
    parser.add_argument("--n-ratings", type=int, default=25_000_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/pipeline_scale"))
    parser.add_argument("--memory-limit-gib", type=float, default=12.0)
    parser.add_argument(
        "--params",
        default=(
            "mf.estimator.params.n_jobs=2,"
            "selection.primary_metric=rmse,selection.secondary_metric=ndcg@10"
        ),
        help="kedro --params for every stage (scale-specific values)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("reports/bench/pipeline_scale.json")
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep --work-dir and the stages of --out that finished; run the rest",
    )
    args = parser.parse_args(argv)
    finished_before: dict[str, dict[str, Any]] = {}
    if args.resume:
        previous = _earlier_report(args.out)
        data = previous["data"]
        finished_before = finished_stages(previous)
        project = args.work_dir / "project"
    else:
        if args.work_dir.exists():
            shutil.rmtree(args.work_dir)
        start = time.perf_counter()
        data = write_movielens(args.work_dir / "movielens", args.n_ratings, args.seed)
        data["write_s"] = time.perf_counter() - start
        project = scratch_project(args.work_dir / "project")
    env = {
        **os.environ,
        **QUIET,
        "MOVIELENS_DIR": str(args.work_dir / "movielens"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "REELOPS_PROJECT_ROOT": str(project),
        "BENTOML_HOME": str(project / "bentoml_home"),
    }
    limit = int(args.memory_limit_gib * GIB)
    stages = []
    git = git_state(REPO)
    report: dict[str, Any] = {
        "protocol": (__doc__ or "").split("Usage::")[0].strip(),
        "commit": git.sha + ("+dirty" if git.dirty else ""),
        "machine": machine_info(),
        "data": data,
        "params": args.params,
        "stages": stages,
    }
    commit = report["commit"]
    for stage, nodes in stage_nodes(project).items():
        if not nodes:
            continue
        if stage in finished_before:
            stages.append(finished_before[stage])
            continue
        found = run_stage(project, stage, nodes, env, limit=limit, params=args.params)
        stages.append(found | {"commit": commit})
        print(stages[-1] | {"error": stages[-1].get("error", "")[-300:]}, flush=True)
        if "error" in stages[-1]:
            break
        write_json(args.out, report)
    finished = len(stages) == sum(1 for n in stage_nodes(project).values() if n)
    finished = finished and "error" not in stages[-1]
    peak = max((s["peak_rss_tree_gib"] for s in stages), default=None)
    report["goal"] = {
        "peak_rss_gib": peak,
        "goal_gib": GOAL_PEAK_BYTES / GIB,
        "all_stages_finished": finished,
        "total_wall_s": sum(s["wall_s"] for s in stages),
        "pass": bool(finished and peak is not None and peak * GIB <= GOAL_PEAK_BYTES),
    }
    if args.n_ratings < GOAL_N_RATINGS:
        report["goal"]["pass"] = None
        report["goal"]["note"] = f"{args.n_ratings:,} ratings: the goal is at 25M"
    write_json(args.out, report)
    print(report["goal"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
