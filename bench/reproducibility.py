"""The model bench's reproducibility bar: same seed, same metrics, same bytes.

Three trainings on the bench's split, each in a fresh interpreter (this file as a
script, the worker): two with their own empty numba cache directory (every kernel
compiled), one reusing the second's (every kernel loaded). The bar passes when the
three give identical metrics and identical pickle sha256 for every model.

Worker usage (what :func:`run_reproducibility` runs)::

    NUMBA_CACHE_DIR=/tmp/c .venv/bin/python bench/reproducibility.py mf,ease --seed 42
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numba
from _common import SEED, K, load_ratings, ml_small_dir, report_key
from ours import RANKING, reelops_models

from recsys import evaluate, random_split

__all__ = [
    "REPRODUCIBILITY_RUNS",
    "reproducibility_bar",
    "reproducibility_worker",
    "run_reproducibility",
]

#: (label, numba cache directory) of each training of the bar, in order: a new
#: directory makes the run compile every kernel (cold), a directory an earlier run
#: filled makes it load them (warm).
REPRODUCIBILITY_RUNS = (("cold_a", "a"), ("cold_b", "b"), ("warm_b", "b"))


def _numba_cache_use() -> dict[str, int]:
    """Kernels of recsys loaded from the numba cache (hits) or compiled (misses)."""
    dispatchers = [
        obj
        for module_name, module in list(sys.modules.items())
        if module_name.split(".")[0] == "recsys"
        for obj in vars(module).values()
        if isinstance(obj, numba.core.dispatcher.Dispatcher)
    ]
    return {
        "hits": sum(sum(d.stats.cache_hits.values()) for d in dispatchers),
        "misses": sum(sum(d.stats.cache_misses.values()) for d in dispatchers),
    }


def reproducibility_worker(names: list[str], seed: int) -> dict[str, Any]:
    """Fit ``names`` on the bench split: metrics and pickle sha256 (subprocess)."""
    ratings = load_ratings(ml_small_dir())
    train, test = random_split(ratings, test_size=0.2, random_state=seed)
    built = reelops_models(seed)
    models = {}
    for name in names:
        model = built[name].fit(train, train["rating"])
        models[name] = {
            "metrics": {
                report_key(k): v
                for k, v in evaluate(
                    model, train, test, K, metrics=("rmse", *RANKING)
                ).items()
            },
            # The protocol of the project's model datasets.
            "sha256": hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest(),
        }
    return {"models": models, "numba_cache": _numba_cache_use()}


def run_reproducibility(names: list[str], seed: int, cache_dir: Path) -> dict[str, Any]:
    """Run :func:`reproducibility_worker` in a fresh interpreter on ``cache_dir``."""
    cmd = [sys.executable, __file__, ",".join(names), "--seed", str(seed)]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        return {"error": f"worker exited {proc.returncode}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def reproducibility_bar(seed: int, names: list[str]) -> dict[str, Any]:
    """Bar 5: the runs of :data:`REPRODUCIBILITY_RUNS`, compared model by model."""
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as tmp:
        runs = {
            label: run_reproducibility(names, seed, Path(tmp, cache_dir))
            for label, cache_dir in REPRODUCIBILITY_RUNS
        }
    bar: dict[str, Any] = {
        "numba_cache": {label: run.get("numba_cache") for label, run in runs.items()}
    }
    errors = {label: run["error"] for label, run in runs.items() if "error" in run}
    if errors:
        return {**bar, "errors": errors, "pass": False}
    per_model = {}
    for name in names:
        metrics = [run["models"][name]["metrics"] for run in runs.values()]
        digests = {label: run["models"][name]["sha256"] for label, run in runs.items()}
        per_model[name] = {
            "metrics_identical": all(m == metrics[0] for m in metrics),
            "sha256": digests,
            "sha256_identical": len(set(digests.values())) == 1,
        }
    return {
        **bar,
        "models": per_model,
        "pass": all(
            m["metrics_identical"] and m["sha256_identical"] for m in per_model.values()
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """The worker: comma-separated model names, one JSON line on stdout."""
    parser = argparse.ArgumentParser(description="One run of the reproducibility bar.")
    parser.add_argument("names", help="comma-separated names, e.g. mf,ease")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    print(json.dumps(reproducibility_worker(args.names.split(","), args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
