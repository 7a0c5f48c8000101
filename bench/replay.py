"""Benchmark the retraining policies of the lifecycle replay on ml-latest-small.

The replay (``pipelines/replay.yml``, ``reelops.nodes.replay``) trains a model on
the ratings before a start date, then quarter by quarter serves the active users,
monitors the quarter's ratings as feedback and retrains per policy: never, every
window, or when the monitoring decision says so (drift/decay-triggered). This
script runs the same node functions, in process, without Kedro or MLflow.

1. calibration, 2003-2007 (the replay proper starts in 2008): the triggered policy
   with a few candidate monitoring configurations (the defaults of
   ``parameters_monitoring.yml``, drift only, decay only, tighter decay limits);
   the selected one has the lowest mean RMSE among those retraining at most half
   as often as every window (ties: fewer retrains).
2. evaluation, 2008 to the last rating: never, every window, and triggered with
   the selected configuration (the one ``parameters_replay.yml`` must hold), and
   the bar: triggered mean RMSE within 2 % of every window, at most half of its
   retrains, better than never. The other candidates are reported too, as
   sensitivity, not used for the choice.

Usage::

    .venv/bin/python bench/replay.py --out reports/bench/replay.json
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from _common import (
    format_table,
    load_ratings_and_movies,
    machine_info,
    ml_small_dir,
    peak_rss_bytes,
    write_json,
)

from reelops.nodes.replay import compare_policies, profile_history, replay_policy
from reelops_monitoring import MonitoringConfig

if TYPE_CHECKING:
    import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CALIBRATION = {"start": "2003-01-01", "end": "2008-01-01"}
EVALUATION = {"start": "2008-01-01", "end": None}
NEVER = 1e9  # a threshold no score or degradation reaches


def candidates() -> dict[str, dict[str, Any]]:
    """Monitoring configurations the triggered policy is calibrated among."""
    default = MonitoringConfig().model_dump()
    drift_only = copy.deepcopy(default)
    for spec in drift_only["decay"]["metrics"].values():
        spec["max_relative_degradation"] = NEVER
    decay_only = copy.deepcopy(default)
    for spec in decay_only["drift"]["columns"].values():
        spec["possible_drift"] = spec["drift"] = NEVER
    tight = copy.deepcopy(default)
    tight["decay"]["metrics"]["rmse"]["max_relative_degradation"] = 0.15
    tight["decay"]["metrics"]["ndcg@10"]["max_relative_degradation"] = 0.30
    return {
        "drift_and_decay_defaults": default,
        "drift_only": drift_only,
        "decay_only": decay_only,
        "drift_and_tight_decay": tight,
    }


def run_period(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    period: dict[str, Any],
    configs: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """never, every window and one triggered run per configuration."""
    base = yaml.safe_load((REPO / "conf/base/parameters_replay.yml").read_text())
    replay = {**base["replay"], **period}
    started = time.perf_counter()
    history = profile_history(ratings, movies, replay)
    timelines = {
        policy: replay_policy(ratings, movies, history, policy, replay)[0]
        for policy in ("never", "every_window")
    }
    results: dict[str, Any] = {}
    for name, monitoring in configs.items():
        triggered, _ = replay_policy(
            ratings, movies, history, "triggered", {**replay, "monitoring": monitoring}
        )
        _, summary, _ = compare_policies(
            replay,
            replay_never=timelines["never"],
            replay_every_window=timelines["every_window"],
            replay_triggered=triggered,
        )
        results[name] = {
            "triggered": summary["policies"]["triggered"],
            "bar": summary["bar"],
            "retrain_windows": triggered.loc[triggered["retrained"], "window"].tolist(),
        }
        print(f"  {period['start']}: {name} done", flush=True)
    _, summary, _ = compare_policies(
        replay,
        replay_never=timelines["never"],
        replay_every_window=timelines["every_window"],
        replay_triggered=timelines["never"].assign(policy="triggered"),
    )
    return {
        "period": period,
        "windows": len(timelines["never"]),
        "never": summary["policies"]["never"],
        "every_window": summary["policies"]["every_window"],
        "candidates": results,
        "seconds": round(time.perf_counter() - started, 1),
    }


def select(calibration: dict[str, Any]) -> str:
    """Lowest triggered mean RMSE among candidates with at most half the retrains."""
    every = calibration["every_window"]["retrains"]
    eligible = {
        name: result["triggered"]
        for name, result in calibration["candidates"].items()
        if 2 * result["triggered"]["retrains"] <= every
    }
    if not eligible:
        raise SystemExit("no candidate retrains at most half as often as every window")
    return min(
        eligible, key=lambda n: (eligible[n]["mean_rmse"], eligible[n]["retrains"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "reports/bench/replay.json", help="report"
    )
    args = parser.parse_args()
    ratings, movies = load_ratings_and_movies(ml_small_dir())
    configs = candidates()
    print("calibration (2003-2007)", flush=True)
    calibration = run_period(ratings, movies, CALIBRATION, configs)
    chosen = select(calibration)
    print(f"selected: {chosen}; evaluation (2008-2018)", flush=True)
    evaluation = run_period(ratings, movies, EVALUATION, configs)
    params = yaml.safe_load((REPO / "conf/base/parameters_replay.yml").read_text())
    configured = MonitoringConfig.model_validate(params["replay"]["monitoring"])
    result = evaluation["candidates"][chosen]
    headline = {
        "selected_on_calibration": chosen,
        "parameters_replay_yml_holds_it": configured
        == MonitoringConfig.model_validate(configs[chosen]),
        "policies": {
            "never": evaluation["never"],
            "every_window": evaluation["every_window"],
            "triggered": result["triggered"],
        },
        "bar": result["bar"],
        "triggered_retrain_windows": result["retrain_windows"],
    }
    rows = [
        [
            name,
            r["triggered"]["retrains"],
            r["triggered"]["mean_rmse"],
            r["triggered"]["mean_ndcg@10"],
            r["bar"].get("rmse_gap_vs_every_window"),
            r["bar"].get("passed"),
        ]
        for period in (calibration, evaluation)
        for name, r in period["candidates"].items()
    ]
    print(
        format_table(rows, ["candidate", "retrains", "rmse", "ndcg@10", "gap", "bar"])
    )
    print(
        f"evaluation: never {evaluation['never']}, every {evaluation['every_window']}"
    )
    write_json(
        args.out,
        {
            "benchmark": "reelops lifecycle replay",
            "data": str(ml_small_dir()),
            "protocol": __doc__,
            "command": ".venv/bin/python bench/replay.py "
            "--out reports/bench/replay.json",
            "machine": machine_info(),
            "estimator": params["replay"]["estimator"],
            "freq": params["replay"]["freq"],
            "evaluation_2008_2018": headline,
            "calibration_2003_2007": calibration,
            "sensitivity_2008_2018": evaluation,
            "peak_rss_bytes": peak_rss_bytes(),
        },
    )


if __name__ == "__main__":
    main()
