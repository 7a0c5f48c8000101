"""Two processes fitting the same model pickle to the same bytes, whatever the state
of the numba cache (compiled now, or loaded from a cache another process wrote).

Each fit runs in its own interpreter: this file is also the worker
(``python test_reproducibility.py``), which fits every estimator of the registry
and prints, as JSON, the sha256 of each pickle and whether the item-kNN similarity
kernel was compiled or loaded from the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from recsys._base import _canonicalize_dtypes

MF = {"n_factors": 8, "n_epochs": 10}
KNN = {"k": 10, "max_neighbors": 50}
EASE = {"lambda_reg": 20.0, "min_item_count": 1}
BLEND = {
    "estimators": [
        {"name": "bias"},
        {"name": "mf", "params": MF},
        {"name": "item_knn", "params": KNN},
    ]
}
#: Registry name -> small hyperparameters; the hybrid has the registered model's
#: shape (a blend with an item-kNN for ratings, EASE for rankings).
SPECS: dict[str, dict[str, Any]] = {
    "popularity": {},
    "bias": {},
    "mf": MF,
    "item_knn": KNN,
    "ease": EASE,
    "rated_ease": {**EASE, "dropout": 0.2, "rating_weight": 0.2},
    "blend": BLEND,
    "hybrid": {
        "rating_estimator": {"name": "blend", "params": BLEND},
        "ranking_estimator": {"name": "ease", "params": EASE},
    },
}
SEED = 0


def _worker() -> dict[str, Any]:
    """Fit every estimator of ``SPECS``; sha256 of each pickle, numba cache use."""
    from recsys import _knn_kernels, make_estimator, make_movielens_like

    ratings = make_movielens_like(3_000, n_users=80, n_movies=120, random_state=7)
    digests = {}
    for name, params in SPECS.items():
        model = make_estimator(name, params)
        # As the training node does: every unset random_state gets the seed.
        model.set_params(
            **{
                key: SEED
                for key, value in model.get_params(deep=True).items()
                if key.split("__")[-1] == "random_state" and value is None
            }
        )
        model.fit(ratings, ratings["rating"])
        # The protocol of the project's model datasets.
        digests[name] = hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()
    stats = _knn_kernels.similarities.stats
    return {
        "sha256": digests,
        "cache_hits": sum(stats.cache_hits.values()),
        "cache_misses": sum(stats.cache_misses.values()),
    }


def _fit_in_subprocess(cache_dir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(cache_dir),
        # The pool size pinned by tests/conftest.py, as in this process.
        "NUMBA_NUM_THREADS": os.environ["NUMBA_NUM_THREADS"],
    }
    proc = subprocess.run(
        [sys.executable, __file__],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"worker exited {proc.returncode}\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Two cold runs, each with its own empty numba cache, then a warm one reusing
    the cache the second cold run wrote."""
    cold_a = tmp_path_factory.mktemp("numba_cache_a")
    cold_b = tmp_path_factory.mktemp("numba_cache_b")
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(_fit_in_subprocess, [cold_a, cold_b])
    return {
        "cold_a": first,
        "cold_b": second,
        "warm_b": _fit_in_subprocess(cold_b),
    }


def test_runs_compile_then_load_from_the_cache(runs):
    cache_use = {
        run: (result["cache_hits"], result["cache_misses"])
        for run, result in runs.items()
    }
    assert cache_use == {"cold_a": (0, 1), "cold_b": (0, 1), "warm_b": (1, 0)}


@pytest.mark.parametrize("name", list(SPECS))
def test_pickle_is_independent_of_the_numba_cache(runs, name):
    digests = {run: result["sha256"][name] for run, result in runs.items()}
    assert len(set(digests.values())) == 1, digests


def test_arrays_get_numpy_shared_dtype_and_stay_shared():
    # What a numba kernel loaded from the cache returns: an unpickled dtype copy.
    copied = pickle.loads(pickle.dumps(np.dtype("int32")))  # noqa: S301 - own bytes
    assert copied is not np.dtype("int32")
    loaded = np.arange(3, dtype=copied)
    plain = np.arange(3.0)
    model = SimpleNamespace(
        a_=loaded, b_=loaded, nested_={"x": [(loaded, 1)]}, c_=plain
    )
    _canonicalize_dtypes(model)
    assert model.a_.dtype is np.dtype("int32")
    assert np.array_equal(model.a_, loaded)
    assert model.b_ is model.a_
    assert model.nested_["x"][0][0] is model.a_
    assert model.c_ is plain


if __name__ == "__main__":
    print(json.dumps(_worker()))
