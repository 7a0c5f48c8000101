"""The model bench's scale bar: MF fitted on 1M, 5M and 25M synthetic ratings.

Each size runs in a fresh interpreter (this file as a script, the worker), so that
its peak resident set size is its own; the parent also samples the worker's RSS
with psutil. The bar: 25M within 5 minutes and 6 GiB, fit time growing about
linearly with size (log-log slope at most 1.25).

Worker usage (what :func:`run_scale_size` runs)::

    .venv/bin/python bench/scale.py 1000000 --seed 42
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import psutil
from _common import SEED, peak_rss_bytes

from recsys import MatrixFactorization, make_movielens_like, rmse_error

__all__ = [
    "SCALE_SIZES",
    "run_scale_size",
    "scale_bar",
    "scale_worker",
]

SCALE_SIZES = (1_000_000, 5_000_000, 25_000_000)
SCALE_TIME_BUDGET_S = 300.0
SCALE_MEMORY_BUDGET_BYTES = 6 * 1024**3
#: "About linear": log-log slope of fit time against size.
SCALE_MAX_SLOPE = 1.25
GIB = 1024**3


def scale_worker(n_ratings: int, seed: int) -> dict[str, Any]:
    """Generate ``n_ratings`` synthetic ratings and fit the default MF (subprocess)."""
    start = time.perf_counter()
    ratings = make_movielens_like(n_ratings, random_state=seed)
    generate_s = time.perf_counter() - start
    rss_data = psutil.Process().memory_info().rss
    model = MatrixFactorization(random_state=seed)
    start = time.perf_counter()
    model.fit(ratings, ratings["rating"])
    fit_s = time.perf_counter() - start
    return {
        "n_ratings": n_ratings,
        "n_users": len(model.user_ids_),
        "n_movies": len(model.movie_ids_),
        "generate_s": generate_s,
        "fit_s": fit_s,
        "rss_after_generate_bytes": rss_data,
        "peak_rss_bytes": peak_rss_bytes(),
        "train_rmse_sample": rmse_error(
            ratings["rating"].iloc[:100_000], model.predict(ratings.iloc[:100_000])
        ),
    }


def run_scale_size(n_ratings: int, seed: int) -> dict[str, Any]:
    """Run one size in a fresh interpreter; also sample its RSS with psutil."""
    cmd = [sys.executable, __file__, str(n_ratings), "--seed", str(seed)]
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
    if proc.returncode != 0:
        return {"n_ratings": n_ratings, "error": f"worker exited {proc.returncode}"}
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["sampled_peak_rss_bytes"] = sampled_peak
    return result


def scale_bar(results: list[dict[str, Any]], skipped_25m: bool) -> dict[str, Any]:
    """Bar 4 from the sizes' results (not evaluated without the 25M size)."""
    ok = [r for r in results if "error" not in r]
    sizes = np.array([r["n_ratings"] for r in ok], dtype=float)
    times = np.array([r["fit_s"] for r in ok])
    slope = (
        float(np.polyfit(np.log(sizes), np.log(times), 1)[0]) if len(ok) >= 2 else None
    )
    largest = max(ok, key=lambda r: r["n_ratings"]) if ok else None
    bar: dict[str, Any] = {
        "sizes": [r["n_ratings"] for r in results],
        "fit_s": [r.get("fit_s") for r in results],
        "peak_rss_gib": [
            r["peak_rss_bytes"] / GIB if "peak_rss_bytes" in r else None
            for r in results
        ],
        "log_log_slope_fit_time_vs_size": slope,
        "max_slope": SCALE_MAX_SLOPE,
        "time_budget_s": SCALE_TIME_BUDGET_S,
        "memory_budget_gib": SCALE_MEMORY_BUDGET_BYTES / GIB,
    }
    if skipped_25m or largest is None or largest["n_ratings"] < SCALE_SIZES[-1]:
        bar["pass"] = None
        bar["note"] = "25M not run (--skip-25m or failure): bar not evaluated"
        return bar
    bar["fit_25m_s"] = largest["fit_s"]
    bar["peak_rss_25m_gib"] = largest["peak_rss_bytes"] / GIB
    bar["time_ratio"] = largest["fit_s"] / SCALE_TIME_BUDGET_S
    bar["memory_ratio"] = largest["peak_rss_bytes"] / SCALE_MEMORY_BUDGET_BYTES
    bar["pass"] = bool(
        len(ok) == len(results)
        and largest["fit_s"] <= SCALE_TIME_BUDGET_S
        and largest["peak_rss_bytes"] <= SCALE_MEMORY_BUDGET_BYTES
        and slope is not None
        and slope <= SCALE_MAX_SLOPE
    )
    return bar


def main(argv: list[str] | None = None) -> int:
    """The worker: one size, its result as one JSON line on stdout."""
    parser = argparse.ArgumentParser(description="One size of the scale bar.")
    parser.add_argument("n_ratings", type=int)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    print(json.dumps(scale_worker(args.n_ratings, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
