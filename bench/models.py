"""Benchmark the recsys estimators against Surprise and a reference EASE.

Protocol (ml-latest-small): one random 80/20 split of the ratings with a fixed
seed. Rating bars use the RMSE on the test part. Ranking: all of a user's held-out
movies are relevant (any rating), the movies the user rated in train are excluded,
every movie rated in train is a candidate; NDCG@10. Every model, ours and the
references, is trained on the same train part. Hyperparameters of our models are
their defaults, chosen beforehand on a validation split carved from the train part
(the project's tuning pipeline, ``kedro run --pipeline tuning``, searches on such a
split); nothing is tuned on the test part.

Bars (each reported with its figures, ratio and pass/fail, computed here):
1. best recsys RMSE <= 0.99 x best Surprise RMSE, with that model's fit <= 10 s;
2. recsys MF alone: fit time <= Surprise SVD (default) fit time, at RMSE <= SVD's;
3. best recsys ranking model NDCG@10 >= reference EASE's, fit <= 10 s;
4. scale: MF fit on synthetic 1M / 5M / 25M ratings, each size in a subprocess:
   25M within 5 min and 6 GB, growth about linear;
5. reproducibility: three trainings with the same seed, each in a subprocess (two
   with their own empty numba cache, one reusing the second's cache), give
   identical metrics and identical pickle sha256.

Timings are wall-clock on a shared 2-core machine: fits that take about a second
are repeated and the minimum is used (the least noise-inflated estimate), for the
Surprise models as for ours, in the same run. numba kernels are compiled (or loaded
from the on-disk cache) by a warm-up fit on a tiny synthetic set before timing, and
the warm-up time is reported.

Usage::

    .venv/bin/python bench/models.py --out reports/bench/models.json
    .venv/bin/python bench/models.py --quick --skip-25m   # no SVD++, no 25M
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import psutil
from _common import (
    format_table,
    latency_summary,
    load_ratings,
    machine_info,
    ml_small_dir,
    peak_rss_bytes,
    timed,
    write_json,
)

import recsys
from recsys import (
    EASE,
    BiasBaseline,
    BlendRecommender,
    ItemKNN,
    MatrixFactorization,
    PopularityRecommender,
    evaluate,
    make_movielens_like,
    metric_names,
    ndcg_at_k_score,
    random_split,
    rmse_error,
)

if TYPE_CHECKING:
    import pandas as pd

SEED = 42
VALIDATION_SEED = 0
K = 10
FIT_BUDGET_S = 10.0
RMSE_RATIO_BAR = 0.99
SCALE_SIZES = (1_000_000, 5_000_000, 25_000_000)
SCALE_TIME_BUDGET_S = 300.0
SCALE_MEMORY_BUDGET_BYTES = 6 * 1024**3
# "About linear": log-log slope of fit time against size.
SCALE_MAX_SLOPE = 1.25
REFERENCE_EASE_LAMBDAS = (100.0, 250.0, 500.0, 1000.0)
GIB = 1024**3
#: The ranking metrics of recsys' vocabulary at K (precision@10, ..., coverage@10).
RANKING = metric_names(K, kinds=("ranking",))


def _report_key(name: str) -> str:
    """A vocabulary name as models.json writes it (``ndcg@10`` -> ``ndcg_at_10``).

    The report's keys predate the vocabulary; they stay so that reports compare
    across runs.
    """
    return name.replace("@", "_at_")


# ----------------------------------------------------------------- our models
def reelops_models(seed: int) -> dict[str, recsys.BaseRecommender]:
    """Every recsys estimator with its default (validation-chosen) hyperparameters."""
    return {
        "popularity": PopularityRecommender(),
        "bias": BiasBaseline(),
        "mf": MatrixFactorization(random_state=seed),
        "item_knn": ItemKNN(),
        "ease": EASE(),
        "blend": BlendRecommender(random_state=seed),
    }


def warm_up() -> float:
    """Compile (or load from cache) every numba kernel; return the time it took."""
    start = time.perf_counter()
    tiny = make_movielens_like(3_000, n_users=40, n_movies=200, random_state=0)
    for model in reelops_models(0).values():
        model.fit(tiny, tiny["rating"])
        model.predict(tiny.head(5))
        model.recommend(tiny["user_id"].iloc[:3], k=3)
        model.recommend(tiny["user_id"].iloc[:40], k=3)
        if hasattr(model, "similar_items"):
            model.similar_items(tiny["movie_id"].iloc[0], k=3)
    return time.perf_counter() - start


def _relevant(test: pd.DataFrame) -> dict[Any, set[Any]]:
    return test.groupby("user_id")["movie_id"].apply(set).to_dict()


def evaluate_reelops(
    name: str,
    model: recsys.BaseRecommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    repeats: int,
) -> dict[str, Any]:
    """Fit (``repeats`` times), then RMSE, ranking metrics, latency and size."""
    _, fit_times = timed(lambda: model.fit(train, train["rating"]), repeats)
    rmse = evaluate(model, train, test, K, metrics=["rmse"])["rmse"]
    ranking, eval_times = timed(
        lambda: evaluate(model, train, test, K, metrics=RANKING)
    )
    # Cross-check of the batched evaluation with the plain mapping-based metric.
    recs = model.recommend(test["user_id"].unique(), K).to_frame()
    by_user = recs.groupby("user_id", sort=False)["movie_id"].apply(list).to_dict()
    ndcg_reference = ndcg_at_k_score(by_user, _relevant(test), K)
    if not math.isclose(ndcg_reference, ranking[f"ndcg@{K}"], rel_tol=1e-9):
        msg = (
            f"{name}: batched NDCG@{K} {ranking[f'ndcg@{K}']} differs from the "
            f"mapping-based metric {ndcg_reference}"
        )
        raise SystemExit(msg)
    users = model.user_ids_
    single = []
    for user in users:
        start = time.perf_counter()
        model.recommend(user, K)
        single.append(time.perf_counter() - start)
    _, batch_times = timed(lambda: model.recommend(users, K))
    return {
        "name": name,
        "class": type(model).__name__,
        "params": {k: repr(v) for k, v in model.get_params(deep=False).items()},
        "fit_s": min(fit_times),
        "fit_times_s": fit_times,
        "rmse": rmse,
        **{_report_key(k): v for k, v in ranking.items()},
        "ndcg_at_10_mapping_check": ndcg_reference,
        "ranking_eval_s": eval_times[0],
        "recommend_single_user": latency_summary(single),
        "recommend_all_users_s": min(batch_times),
        "n_users_recommended": len(users),
        "pickle_mb": len(pickle.dumps(model)) / 1e6,
    }


# ------------------------------------------------------------ the references
def surprise_specs(quick: bool) -> dict[str, Any]:
    from surprise import SVD, KNNBaseline, SVDpp

    specs: dict[str, Any] = {
        "svd_default": lambda: SVD(random_state=0),
        "svd_tuned": lambda: SVD(
            n_factors=100, n_epochs=40, lr_all=0.01, reg_all=0.1, random_state=0
        ),
        "knn_baseline_item_pearson_baseline": lambda: KNNBaseline(
            sim_options={"name": "pearson_baseline", "user_based": False},
            verbose=False,
        ),
    }
    if not quick:
        specs["svdpp_default"] = lambda: SVDpp(random_state=0)
    return specs


def evaluate_surprise(
    name: str, factory: Any, train: pd.DataFrame, test: pd.DataFrame, repeats: int
) -> dict[str, Any]:
    from surprise import Dataset, Reader

    data = Dataset.load_from_df(
        train[["user_id", "movie_id", "rating"]], Reader(rating_scale=(0.5, 5.0))
    )
    trainset = data.build_full_trainset()
    algo = None

    def fit() -> Any:
        nonlocal algo
        algo = factory()
        algo.fit(trainset)
        return algo

    _, fit_times = timed(fit, repeats)
    assert algo is not None
    est = np.array(
        [
            algo.predict(u, i).est
            for u, i in zip(test["user_id"], test["movie_id"], strict=True)
        ]
    )
    return {
        "name": name,
        "fit_s": min(fit_times),
        "fit_times_s": fit_times,
        "rmse": rmse_error(test["rating"], est),
    }


class ReferenceEASE:
    """Plain-numpy EASE (Steck 2019): float64 Gram matrix and ``np.linalg.inv``."""

    def __init__(self, lambda_reg: float) -> None:
        self.lambda_reg = lambda_reg

    def fit(self, train: pd.DataFrame) -> ReferenceEASE:
        self.users = np.sort(train["user_id"].unique())
        self.items = np.sort(train["movie_id"].unique())
        u = np.searchsorted(self.users, train["user_id"].to_numpy())
        i = np.searchsorted(self.items, train["movie_id"].to_numpy())
        x = np.zeros((len(self.users), len(self.items)))
        x[u, i] = 1.0
        gram = x.T @ x
        gram[np.diag_indices_from(gram)] += self.lambda_reg
        p = np.linalg.inv(gram)
        self.weights = p / -np.diag(p)
        np.fill_diagonal(self.weights, 0.0)
        self.x = x
        return self

    def recommend(self, users: np.ndarray, k: int) -> dict[Any, list[Any]]:
        rows = np.searchsorted(self.users, users)
        known = (rows < len(self.users)) & (
            self.users[np.minimum(rows, len(self.users) - 1)] == users
        )
        scores = self.x[rows[known]] @ self.weights
        scores[self.x[rows[known]] > 0] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return {
            user: list(self.items[t]) for user, t in zip(users[known], top, strict=True)
        }


def evaluate_reference_ease(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """Choose lambda on a validation split carved from train, refit, evaluate."""
    start = time.perf_counter()
    sub, val = random_split(train, test_size=0.2, random_state=VALIDATION_SEED)
    val_users = val["user_id"].unique()
    val_ndcg = {}
    for lam in REFERENCE_EASE_LAMBDAS:
        model = ReferenceEASE(lam).fit(sub)
        val_ndcg[lam] = ndcg_at_k_score(
            model.recommend(val_users, K), _relevant(val), K
        )
    best = max(REFERENCE_EASE_LAMBDAS, key=lambda lam: (val_ndcg[lam], -lam))
    model, final_times = timed(lambda: ReferenceEASE(best).fit(train))
    total = time.perf_counter() - start
    recs = model.recommend(test["user_id"].unique(), K)
    return {
        "name": "reference_ease_numpy",
        "lambda_candidates": list(REFERENCE_EASE_LAMBDAS),
        "validation_ndcg_at_10": {str(k): v for k, v in val_ndcg.items()},
        "lambda": best,
        "fit_s": final_times[0],
        "fit_with_lambda_search_s": total,
        "ndcg_at_10": ndcg_at_k_score(recs, _relevant(test), K),
    }


# -------------------------------------------------------------------- scale
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
    cmd = [
        sys.executable,
        __file__,
        "--scale-worker",
        str(n_ratings),
        "--seed",
        str(seed),
    ]
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
    result = json.loads(out.strip().splitlines()[-1])
    result["sampled_peak_rss_bytes"] = sampled_peak
    return result


def scale_bar(results: list[dict[str, Any]], skipped_25m: bool) -> dict[str, Any]:
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


# ----------------------------------------------------------- reproducibility
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
    models = {}
    for name in names:
        model = reelops_models(seed)[name].fit(train, train["rating"])
        models[name] = {
            "metrics": {
                _report_key(k): v
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
    cmd = [
        sys.executable,
        __file__,
        "--reproducibility-worker",
        ",".join(names),
        "--seed",
        str(seed),
    ]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        return {"error": f"worker exited {proc.returncode}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def reproducibility_bar(seed: int, names: list[str]) -> dict[str, Any]:
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


# ----------------------------------------------------------------- the run
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/bench/models.json"))
    parser.add_argument("--quick", action="store_true", help="skip Surprise SVD++")
    parser.add_argument("--skip-25m", action="store_true", help="scale bar up to 5M")
    parser.add_argument("--skip-scale", action="store_true", help="no scale bar")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of fast fits")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--scale-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--reproducibility-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.scale_worker:
        print(json.dumps(scale_worker(args.scale_worker, args.seed)))
        return 0
    if args.reproducibility_worker:
        names = args.reproducibility_worker.split(",")
        print(json.dumps(reproducibility_worker(names, args.seed)))
        return 0

    ratings = load_ratings(ml_small_dir())
    train, test = random_split(ratings, test_size=0.2, random_state=args.seed)

    started = time.perf_counter()
    report = run_models(args, train, test)
    report["bars"] = compute_bars(report)
    if args.skip_scale:
        report["bars"]["4_scale"] = {"pass": None, "note": "--skip-scale"}
        report["scale"] = []
    else:
        sizes = SCALE_SIZES[:-1] if args.skip_25m else SCALE_SIZES
        report["scale"] = []
        for n in sizes:
            report["scale"].append(run_scale_size(n, args.seed))
            print(f"scale {n}: {report['scale'][-1]}", flush=True)
        report["bars"]["4_scale"] = scale_bar(report["scale"], args.skip_25m)
    report["bars"]["5_reproducibility"] = reproducibility_bar(
        args.seed, ["mf", "item_knn", "ease", "blend"]
    )
    report["bars"] = dict(sorted(report["bars"].items()))
    report["total_s"] = time.perf_counter() - started
    write_json(args.out, report)
    print_summary(report)
    return 0


def run_models(
    args: argparse.Namespace, train: pd.DataFrame, test: pd.DataFrame
) -> dict[str, Any]:
    """Protocol, the Surprise models, ours and the reference EASE."""
    report: dict[str, Any] = {
        "protocol": {
            "data": "ml-latest-small ratings.csv",
            "split": f"recsys.random_split(test_size=0.2, random_state={args.seed})",
            "n_train": len(train),
            "n_test": len(test),
            "rating_metric": "RMSE on the test part",
            "ranking_metric": (
                "NDCG@10; relevant = all held-out movies of the user; movies rated in "
                "train excluded; candidates = every movie rated in train"
            ),
            "timing": (
                f"wall clock; fast fits repeated {args.repeats}x and the minimum used; "
                "Surprise measured in the same run; numba kernels warmed up first"
            ),
            "quick": args.quick,
        },
        "machine": machine_info(),
        "recsys_numba_warm_up_s": warm_up(),
    }

    surprise = {}
    for name, factory in surprise_specs(args.quick).items():
        slow = name.startswith(("knn", "svdpp"))
        result = evaluate_surprise(
            name, factory, train, test, 1 if slow else args.repeats
        )
        surprise[name] = result
        print(f"surprise {name}: {result['rmse']:.4f} in {result['fit_s']:.2f}s")
    report["surprise"] = surprise

    ours = {}
    for name, model in reelops_models(args.seed).items():
        result = evaluate_reelops(name, model, train, test, args.repeats)
        ours[name] = result
        print(
            f"recsys {name}: rmse {result['rmse']:.4f} "
            f"ndcg {result['ndcg_at_10']:.4f} in {result['fit_s']:.2f}s",
            flush=True,
        )
    report["recsys"] = ours

    reference = evaluate_reference_ease(train, test)
    print(f"reference EASE: ndcg {reference['ndcg_at_10']:.4f} ({reference['lambda']})")
    report["reference_ease"] = reference
    return report


def compute_bars(report: dict[str, Any]) -> dict[str, Any]:
    """Bars 1-3 from the measured figures."""
    surprise, ours = report["surprise"], report["recsys"]
    reference = report["reference_ease"]
    bars: dict[str, Any] = {}
    best_surprise = min(surprise.values(), key=lambda r: r["rmse"])
    best_ours = min(ours.values(), key=lambda r: r["rmse"])
    ratio = best_ours["rmse"] / best_surprise["rmse"]
    bars["1_best_rmse_vs_surprise"] = {
        "recsys_model": best_ours["name"],
        "recsys_rmse": best_ours["rmse"],
        "recsys_fit_s": best_ours["fit_s"],
        "surprise_model": best_surprise["name"],
        "surprise_rmse": best_surprise["rmse"],
        "surprise_compared": sorted(surprise),
        "ratio": ratio,
        "required_ratio": RMSE_RATIO_BAR,
        "fit_budget_s": FIT_BUDGET_S,
        "pass": bool(ratio <= RMSE_RATIO_BAR and best_ours["fit_s"] <= FIT_BUDGET_S),
    }
    svd, mf = surprise["svd_default"], ours["mf"]
    bars["2_mf_vs_surprise_svd_default"] = {
        "recsys_mf_fit_s": mf["fit_s"],
        "svd_fit_s": svd["fit_s"],
        "fit_time_ratio": mf["fit_s"] / svd["fit_s"],
        "recsys_mf_rmse": mf["rmse"],
        "svd_rmse": svd["rmse"],
        "rmse_ratio": mf["rmse"] / svd["rmse"],
        "pass": bool(mf["fit_s"] <= svd["fit_s"] and mf["rmse"] <= svd["rmse"]),
    }
    best_rank = max(ours.values(), key=lambda r: r["ndcg_at_10"])
    bars["3_best_ndcg_vs_reference_ease"] = {
        "recsys_model": best_rank["name"],
        "recsys_ndcg_at_10": best_rank["ndcg_at_10"],
        "recsys_fit_s": best_rank["fit_s"],
        "reference_ndcg_at_10": reference["ndcg_at_10"],
        "reference_lambda": reference["lambda"],
        "reference_fit_with_lambda_search_s": reference["fit_with_lambda_search_s"],
        "ratio": best_rank["ndcg_at_10"] / reference["ndcg_at_10"],
        "fit_budget_s": FIT_BUDGET_S,
        "pass": bool(
            best_rank["ndcg_at_10"] >= reference["ndcg_at_10"]
            and best_rank["fit_s"] <= FIT_BUDGET_S
        ),
    }
    return bars


def print_summary(report: dict[str, Any]) -> None:
    rows = [
        [f"surprise {r['name']}", r["rmse"], None, r["fit_s"], None]
        for r in report["surprise"].values()
    ]
    rows += [
        [
            f"recsys {r['name']}",
            r["rmse"],
            r["ndcg_at_10"],
            r["fit_s"],
            r["recommend_single_user"]["median_ms"],
        ]
        for r in report["recsys"].values()
    ]
    ref = report["reference_ease"]
    rows.append(
        [
            "reference EASE (numpy)",
            None,
            ref["ndcg_at_10"],
            ref["fit_with_lambda_search_s"],
            None,
        ]
    )
    print()
    print(format_table(rows, ["model", "RMSE", "NDCG@10", "fit s", "rec 1 user ms"]))
    print()
    bar_rows = []
    for name, bar in report["bars"].items():
        ratio = bar.get("ratio", bar.get("fit_time_ratio", bar.get("time_ratio")))
        bar_rows.append(
            [name, ratio, "skipped" if bar["pass"] is None else bar["pass"]]
        )
    print(format_table(bar_rows, ["bar", "ratio", "result"]))


if __name__ == "__main__":
    sys.exit(main())
