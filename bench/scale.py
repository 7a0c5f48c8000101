"""The scale bench: MF fitted on 1M, 5M and 25M synthetic ratings, 2 threads.

Protocol. ``recsys.make_movielens_like(n, random_state=seed)`` ratings (MovieLens
shape: at 25M, 162,540 users and 59,047 movies); the timestamp column is dropped;
1 % of the (user, movie) pairs is held out by ``recsys.hash_split``'s rule (a hash
of the pair and the seed, computed here in chunks so that no 64-bit copy of the
25M ids is made); ``MatrixFactorization`` with its default hyperparameters
(128 factors, 40 epochs) and ``n_jobs=2`` is fitted on the rest and scored by RMSE
on the held-out pairs. Each size runs in a fresh interpreter (this file as a script,
the worker): its peak resident set size (``VmHWM``, the whole process: interpreter,
libraries, data and model) is its own. numba kernels are loaded (or compiled) by a
warm-up fit on 2,000 ratings before the timed fit. The 25M size is also run by
today's kernel (``--baseline-python``: the interpreter of a checkout of ``main``,
whose ``recsys`` it imports) in the same run, for the accuracy goal.

Goals (issue 15, goal 3): at 25M, fit <= 30 s (stretch 20 s), peak RSS <= 1.0 GiB,
held-out RMSE within 0.005 of today's kernel. The peer is libmf, quoted (about 18 s
for 25M ratings on 2 cores), not measured here. Timings are wall-clock on a shared
2-core machine: the load average at the start and end of each size is recorded.

Usage::

    .venv/bin/python bench/scale.py --out reports/bench/scale.json \\
        --baseline-python /work/main/.venv/bin/python
    .venv/bin/python bench/scale.py --worker 1000000 --seed 42 --n-jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from _common import SEED, machine_info, peak_rss_bytes, write_json

from recsys import MatrixFactorization, make_movielens_like, rmse_error
from recsys.splits import _mix64

__all__ = [
    "SCALE_SIZES",
    "holdout_mask",
    "run_scale_size",
    "scale_bar",
    "scale_worker",
]

SCALE_SIZES = (1_000_000, 5_000_000, 25_000_000)
SCALE_N_JOBS = 2
HOLDOUT_SHARE = 0.01
GOAL_FIT_S = 30.0
STRETCH_FIT_S = 20.0
GIB = 1024**3
GOAL_PEAK_RSS_BYTES = 1 * GIB
GOAL_RMSE_DELTA = 0.005
#: "About linear": log-log slope of fit time against size.
SCALE_MAX_SLOPE = 1.25
PEER = {
    "name": "libmf",
    "fit_25m_s": 18.0,
    "measured": False,
    "note": "quoted from issue 15 (libmf, 25M ratings, 2 cores); not measured here",
}
_CHUNK = 1 << 20


def holdout_mask(
    users: np.ndarray, movies: np.ndarray, *, share: float, seed: int
) -> np.ndarray:
    """``hash_split``'s test mask, computed a million pairs at a time."""
    salt = _mix64(np.asarray([int(seed) % 2**64], dtype=np.uint64))[0]
    mask = np.empty(len(users), dtype=bool)
    for lo in range(0, len(users), _CHUNK):
        u = users[lo : lo + _CHUNK].astype(np.uint64)
        m = movies[lo : lo + _CHUNK].astype(np.uint64)
        keys = _mix64(_mix64(u ^ salt) ^ m)
        mask[lo : lo + _CHUNK] = (keys >> np.uint64(11)).astype(np.float64) / float(
            2**53
        ) < share
    return mask


def _split_columns(
    frame: pd.DataFrame, mask: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(frame[~mask], frame[mask])``, one column at a time, ``frame`` emptied."""
    train: dict[str, np.ndarray] = {}
    test: dict[str, np.ndarray] = {}
    for name in list(frame.columns):
        column = frame.pop(name).to_numpy()
        train[name] = column[~mask]
        test[name] = column[mask]
        del column
    return pd.DataFrame(train, copy=False), pd.DataFrame(test, copy=False)


def scale_worker(n_ratings: int, seed: int, n_jobs: int | None) -> dict[str, Any]:
    """Generate, hold out 1 %, fit MF and score it (in its own interpreter)."""
    warm = make_movielens_like(2_000, random_state=0)
    params: dict[str, Any] = {} if n_jobs is None else {"n_jobs": n_jobs}
    start = time.perf_counter()
    MatrixFactorization(n_epochs=1, random_state=0, **params).fit(warm, warm["rating"])
    warm_up_s = time.perf_counter() - start
    rss_libraries = psutil.Process().memory_info().rss
    start = time.perf_counter()
    ratings = make_movielens_like(n_ratings, random_state=seed)
    del ratings["timestamp"]
    generate_s = time.perf_counter() - start
    mask = holdout_mask(
        ratings["user_id"].to_numpy(),
        ratings["movie_id"].to_numpy(),
        share=HOLDOUT_SHARE,
        seed=seed,
    )
    train, test = _split_columns(ratings, mask)
    del ratings, mask
    model = MatrixFactorization(random_state=seed, **params)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(train, train["rating"])
    fit_s = time.perf_counter() - start
    fit_cpu_s = time.process_time() - cpu_start
    peak = peak_rss_bytes()
    return {
        "n_ratings": n_ratings,
        "n_train": len(train),
        "n_held_out": len(test),
        "n_users": len(model.user_ids_),
        "n_movies": len(model.movie_ids_),
        "n_jobs": n_jobs,
        "model_params": {
            k: v for k, v in model.get_params().items() if k != "random_state"
        },
        "warm_up_s": warm_up_s,
        "generate_s": generate_s,
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "rss_libraries_bytes": rss_libraries,
        "peak_rss_bytes": peak,
        "peak_rss_gib": peak / GIB,
        "bytes_per_rating": peak / n_ratings,
        "held_out_rmse": rmse_error(test["rating"], model.predict(test)),
    }


def run_scale_size(
    n_ratings: int,
    seed: int,
    *,
    n_jobs: int | None = SCALE_N_JOBS,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Run one size in a fresh interpreter; also sample its RSS with psutil."""
    cmd = [python, __file__, "--worker", str(n_ratings), "--seed", str(seed)]
    if n_jobs is not None:
        cmd += ["--n-jobs", str(n_jobs)]
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    sampled_peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal sampled_peak
        ps = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                sampled_peak = max(sampled_peak, ps.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    base = {"n_ratings": n_ratings, "python": python, "command": " ".join(cmd)}
    if proc.returncode != 0:
        return {**base, "error": f"worker exited {proc.returncode}"}
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return {
        **base,
        **result,
        "sampled_peak_rss_bytes": sampled_peak,
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }


def _goal(figure: float | None, limit: float) -> dict[str, Any]:
    ok = figure is not None and figure <= limit
    return {"figure": figure, "goal": limit, "pass": bool(ok)}


def scale_bar(
    results: list[dict[str, Any]],
    skipped_25m: bool,
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The goals from the sizes' results (not evaluated without the 25M size)."""
    ok = [r for r in results if "error" not in r]
    sizes = np.array([r["n_ratings"] for r in ok], dtype=float)
    times = np.array([r["fit_s"] for r in ok])
    slope = (
        float(np.polyfit(np.log(sizes), np.log(times), 1)[0]) if len(ok) >= 2 else None
    )
    bar: dict[str, Any] = {
        "sizes": [r["n_ratings"] for r in results],
        "fit_s": [r.get("fit_s") for r in results],
        "peak_rss_gib": [r.get("peak_rss_gib") for r in results],
        "bytes_per_rating": [r.get("bytes_per_rating") for r in results],
        "held_out_rmse": [r.get("held_out_rmse") for r in results],
        "log_log_slope_fit_time_vs_size": slope,
        "peer": PEER,
    }
    largest = next((r for r in ok if r["n_ratings"] == SCALE_SIZES[-1]), None)
    if skipped_25m or largest is None:
        bar["pass"] = None
        bar["note"] = "25M not run (--skip-25m or failure): goals not evaluated"
        return bar
    goals = {
        "fit_25m_s": _goal(largest["fit_s"], GOAL_FIT_S),
        "fit_25m_s_stretch": _goal(largest["fit_s"], STRETCH_FIT_S),
        "peak_rss_25m_gib": _goal(largest["peak_rss_gib"], GOAL_PEAK_RSS_BYTES / GIB),
    }
    goals["fit_25m_s"]["vs_peer"] = largest["fit_s"] / PEER["fit_25m_s"]
    if baseline is not None and "error" not in baseline:
        delta = largest["held_out_rmse"] - baseline["held_out_rmse"]
        goals["held_out_rmse_delta_vs_today"] = {
            **_goal(abs(delta), GOAL_RMSE_DELTA),
            "delta": delta,
            "today_rmse": baseline["held_out_rmse"],
            "new_rmse": largest["held_out_rmse"],
        }
        bar["today"] = {
            "fit_s": baseline["fit_s"],
            "peak_rss_gib": baseline["peak_rss_gib"],
            "bytes_per_rating": baseline["bytes_per_rating"],
            "held_out_rmse": baseline["held_out_rmse"],
            "fit_time_ratio_new_over_today": largest["fit_s"] / baseline["fit_s"],
            "peak_rss_ratio_new_over_today": largest["peak_rss_bytes"]
            / baseline["peak_rss_bytes"],
        }
    else:
        goals["held_out_rmse_delta_vs_today"] = {
            "pass": None,
            "note": "today's kernel not run (--baseline-python)",
        }
    bar["goals"] = goals
    # The stretch goal is reported, not required.
    required = [g["pass"] for k, g in goals.items() if k != "fit_25m_s_stretch"]
    bar["pass"] = None if None in required else all(required)
    return bar


def run_bench(
    sizes: tuple[int, ...], seed: int, baseline_python: str | None
) -> dict[str, Any]:
    """Every size with the new kernel, then 25M with today's (if given)."""
    results = []
    for n in sizes:
        results.append(run_scale_size(n, seed))
        print(f"scale {n}: {results[-1]}", flush=True)
    baseline = None
    if baseline_python is not None and SCALE_SIZES[-1] in sizes:
        baseline = run_scale_size(
            SCALE_SIZES[-1], seed, n_jobs=None, python=baseline_python
        )
        print(f"today's kernel 25M: {baseline}", flush=True)
    return {
        "protocol": (__doc__ or "").split("Usage::")[0].strip(),
        "machine": machine_info(),
        "sizes": results,
        "today_25m": baseline,
        "bar": scale_bar(results, SCALE_SIZES[-1] not in sizes, baseline),
    }


def main(argv: list[str] | None = None) -> int:
    """The bench (``--out``) or one size of it (``--worker N``, JSON on stdout)."""
    parser = argparse.ArgumentParser(description="MF at scale (issue 15, goal 3).")
    parser.add_argument("--worker", type=int, metavar="N_RATINGS")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SCALE_SIZES))
    parser.add_argument("--baseline-python", default=None)
    parser.add_argument("--out", type=Path, default=Path("reports/bench/scale.json"))
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(scale_worker(args.worker, args.seed, args.n_jobs)))
        return 0
    report = run_bench(tuple(args.sizes), args.seed, args.baseline_python)
    write_json(args.out, report)
    print(json.dumps(report["bar"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
