"""No-drift validation of the retrain decision on ordinary served traffic (issue 17).

Windows with nothing injected, each judged by the decision the monitoring pipeline
makes (``reelops.retrain_decision``: drift against the configured references, data
quality, decay of the deployed model against its time-based holdout), built with
the pipeline's own functions (``deployed_performance``, ``window_view``,
``traffic_reference``). Data: MovieLens ml-latest-small. The deployed model is a
BiasBaseline (what the decision reads of a model: its users, its ratings and
top-10 lists); its holdout metrics come from ``evaluate_on_holdout`` (refitted
without the last 90 days of its training data), as the reference_profile pipeline
records them.

1. known users: each user's ratings in time order; the first 75 % are the model's
   training data, the last 25 % the user's later feedback (a user's ratings after
   the model's training cut-off). Windows: ``--rows`` consecutive ratings of the
   feedback in time order, one every ``--stride`` ratings (overlapping; every user
   in them is known to the model). Only the users who arrived from 2008 on: the
   users who arrived before calibrate the thresholds (``bench/monitoring.py`` runs
   :func:`known_user_windows` on them). Each window is also judged with +0.5 stars
   for a share of its users in steady state (the served traffic kept is the
   unchanged window's): the detection the residuals against the deployed model
   give (at first deployment there are no residuals to compare with).
2. replayed traffic: the real ratings in time order, in consecutive chunks of
   ``--replay-rows``; each chunk is judged with a model retrained on every rating
   before it (the first chunks, with fewer than 10,000 ratings before them, are
   skipped). Real quarters are reported too, in three calendars
   (:data:`QUARTER_CALENDARS`: quarters starting in January, February or March
   and every three months after), each replayed on its own, pooled.

Each kind is judged at the first deployment (no served traffic kept yet: the
training data is the only reference, new users' columns from its last 4
quarters, as the reference_profile pipeline merges it) and in steady
state (the previous windows of served traffic kept by the monitoring runs,
``drift.traffic_windows`` of them).
The columns of reference ``deployment`` (residuals, ``popular_movie``) and decay
against served traffic look only at the windows the same deployment served
(``deployment_identity``): replayed traffic is therefore judged in steady state
twice, retrained before every window (``steady_state``: those columns wait) and
with a deployment kept for ``--keep`` windows before the next retrain
(``steady_state_kept``: they are judged from its second window on), and as the
loop runs (``steady_state_triggered``): a deployment serves windows until its
decision says retrain or it has served ``--keep`` windows (the scheduled retrain),
whichever comes first, so that one drift episode is not counted again in every
later window of a stale model (the kept mode counts it up to ``keep - 1`` times).
In the kept mode each window after a deployment's first is also judged with the
deployment's model broken (``scrambled``: its item biases and its popularity
order permuted, as an id mapping bug after a catalogue refresh would; nothing
kept): the share of such
windows whose decision names NDCG@10 decay, and the share that says retrain, is
the power that the false alarms above are paid for.
Goal:
``retrain: false`` in >= 95 % of >= 100 windows of each kind. Replayed traffic
is also summarized over its windows from 2008 on (``from_2008``): the earlier ones
calibrate the thresholds of new users' columns (``bench/monitoring.py``).

Usage::

    .venv/bin/python bench/monitoring_traffic.py \
        --out reports/bench/monitoring_traffic.json
"""

from __future__ import annotations

import argparse
import copy
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    COHORT_SPLIT,
    cohort,
    load_ratings_and_movies,
    machine_info,
    ml_small_dir,
    write_json,
)

from recsys import BiasBaseline
from reelops.deployed_performance import deployed_performance
from reelops.holdout import evaluate_on_holdout
from reelops.nodes.reference import ReferenceConfig
from reelops.retrain_decision import retrain_decision
from reelops.window_profiles import (
    deployment_identity,
    reference_profiles,
    traffic_key,
    traffic_reference,
    training_reference,
    window_view,
)
from reelops_monitoring import MonitoringConfig, ProfileView
from reelops_monitoring.features import (
    RATING_LEVEL_COLUMNS,
    catalogue_head,
    head_share_by_tenure,
    user_habits,
)
from reelops_monitoring.raters import screen_raters
from reelops_monitoring.replay import directed_score
from reelops_monitoring.scenarios import (
    RATING_SHIFT_REASONS,
    Scenario,
    inflate_ratings,
)
from reelops_monitoring.windows import split_windows

COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
EVALUATION = {"k": 10}
HOLDOUT_DAYS = 90
#: the training reference's recent columns and windows, as the pipeline's
RECENT = ReferenceConfig().recent
KNOWN_SHARE = 0.75
MIN_HISTORY = 10_000
GOAL = 0.95
#: replayed traffic: ratings per chunk, and windows a deployment serves before
#: the next retrain (kept mode), at most (the loop)
REPLAY_ROWS = 800
KEEP = 4
#: Replayed quarters: three calendars, quarters starting in January, April, July
#: and October (pandas ``Q-DEC``), then a month later (``Q-JAN``), then two
#: (``Q-FEB``). ml-latest-small spans 74 calendar quarters with enough history
#: before them, fewer than the 100 windows the goal asks for; each calendar is
#: replayed as a deployment of its own would see it.
QUARTER_CALENDARS = ("Q-DEC", "Q-JAN", "Q-FEB")


def _inflation(share: float) -> Scenario:
    return Scenario(
        name=f"known_user_inflation_{share:.0%}",
        description=f"+0.5 stars for {share:.0%} of the window's (known) users",
        expected=RATING_SHIFT_REASONS,
        inject=lambda w, seed: inflate_ratings(w, share=share, seed=seed),
    )


#: Rating inflation injected into the known users' windows.
INFLATION = tuple(_inflation(share) for share in (0.5, 1.0))


def _iso(seconds: int) -> str:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").isoformat()


class Deployment:
    """A model fitted on ``train``, with its reference profile and holdout metrics."""

    def __init__(
        self, train: pd.DataFrame, movies: pd.DataFrame, version: int = 1
    ) -> None:
        self.model = BiasBaseline().fit(train[COLUMNS], train["rating"].to_numpy())
        self.head = catalogue_head(train)
        self.identity = deployment_identity(f"v{version}", self.head)
        self.head_shares = head_share_by_tenure(train, self.head.index)
        views, self.correlation = reference_profiles(
            train,
            movies,
            correlated=RATING_LEVEL_COLUMNS,
            head_movies=self.head,
            head_shares=self.head_shares,
        )
        self.reference = training_reference([v for _, v in views], RECENT)
        self.holdout = evaluate_on_holdout(
            self.model, train, holdout_days=HOLDOUT_DAYS, evaluation=EVALUATION
        )
        self.n_train = len(train)
        self.habits = user_habits(train, self.head)


def scrambled(deployment: Deployment, seed: int) -> Deployment:
    """The deployment with a broken model: its movies' scores shuffled.

    Its item biases are permuted among the movies (known users' rankings and
    predictions) and so is its popularity order (new users' top 10s), as an id
    mapping bug after a catalogue refresh would. Its identity, reference and
    holdout are the intact model's (the windows it served before the break are
    its ``deployment`` reference).
    """
    model = copy.deepcopy(deployment.model)
    rng = np.random.default_rng(seed)
    model.item_bias_ = model.item_bias_[rng.permutation(len(model.item_bias_))]
    model.fallback_item_bias_ = model.item_bias_
    model.popular_items_ = rng.permutation(model.popular_items_)
    broken = copy.copy(deployment)
    broken.model = model
    return broken


def judge(
    deployment: Deployment,
    window: pd.DataFrame,
    movies: pd.DataFrame,
    config: MonitoringConfig,
    served: dict[str, ProfileView] | None,
    *,
    served_metrics: dict[str, dict[str, Any]] | None = None,
    keep: bool = True,
) -> dict[str, Any]:
    """The pipeline's decision on one window; kept in ``served`` if given and keep."""
    start = _iso(window["timestamp"].min())
    end = _iso(window["timestamp"].max() + 1)
    info = {"start": start, "end": end, "n_rows": len(window), "days": 0}
    screen = screen_raters(window, config.raters)
    kept, _ = screen.split(window)
    performance, predictions = deployed_performance(
        deployed_model={"model": deployment.model, "info": {"version": "1"}},
        window_feedback=kept,
        evaluation=EVALUATION,
    )
    profile = window_view(
        kept,
        movies,
        performance["known_users"],
        start,
        predictions=predictions,
        user_habits=deployment.habits,
        head_movies=deployment.head,
        head_shares=deployment.head_shares,
    )
    traffic = (
        traffic_reference(
            served,
            start,
            config.drift.traffic_windows,
            served_metrics,
            deployment=deployment.identity,
        )
        if served is not None
        else None
    )
    decision = retrain_decision(
        reference_profile=deployment.reference,
        window_profile=profile,
        reference_summary={
            "data_sha256": None,
            "n_ratings": deployment.n_train,
            "intra_user_correlation": deployment.correlation,
        },
        holdout_metrics=deployment.holdout,
        window_info=info,
        window_performance=performance,
        serving_summary={"available": False, "reason": "bench"},
        config=config,
        traffic_reference=traffic,
        rater_screen=screen.to_dict(),
    )
    if served is not None and keep:
        served[traffic_key(start, end)] = profile
        if served_metrics is not None:
            served_metrics[traffic_key(start, end)] = {
                **(performance["metrics"] or {}),
                "deployment": deployment.identity,
            }
    return {
        "window": start[:10],
        "retrain": bool(decision["retrain"]),
        "assessed": decision["status"] != "not_enough_feedback",
        "reasons": decision["reasons"],
        "scores": {
            column: directed_score(found, config.drift.columns[column].direction)
            for column, found in decision["scores"]["drift"].get("columns", {}).items()
        },
        "known_share": len(performance["known_users"])
        / max(window["user_id"].nunique(), 1),
    }


def chunks(frame: pd.DataFrame, rows: int, stride: int = 0) -> list[pd.DataFrame]:
    """Consecutive windows of ``rows`` ratings in time order, every ``stride``."""
    ordered = frame.sort_values(["timestamp", "user_id", "movie_id"], kind="stable")
    step = stride or rows
    return [ordered.iloc[i : i + rows] for i in range(0, len(ordered) - rows + 1, step)]


def known_user_windows(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    config: MonitoringConfig,
    rows: int,
    stride: int,
    *,
    scenarios: tuple[Scenario, ...] = (),
) -> dict[str, Any]:
    """Judge windows of known users' later ratings (see the module docstring).

    Returns:
        ``n_train``, ``n_feedback`` and, for ``first_deployment`` and
        ``steady_state``, one row per window (:func:`judge`) under ``"none"`` and
        under each scenario's name (the window with it injected).
    """
    ordered = ratings.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    rank = ordered.groupby("user_id").cumcount()
    size = ordered.groupby("user_id")["user_id"].transform("size")
    later = rank >= np.ceil(KNOWN_SHARE * size)
    train, feedback = ordered[~later], ordered[later]
    deployment = Deployment(train, movies)
    windows = chunks(feedback, rows, stride)
    modes: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for mode in ("first_deployment", "steady_state"):
        served: dict[str, ProfileView] | None = {} if mode == "steady_state" else None
        metrics: dict[str, dict[str, Any]] = {}
        found: dict[str, list[dict[str, Any]]] = {"none": []}
        for index, window in enumerate(windows):
            # at first deployment there is no served traffic: no residual reference
            for scenario in scenarios if served is not None else ():
                injected = scenario.inject(window, index)
                row = judge(
                    deployment,
                    injected,
                    movies,
                    config,
                    served,
                    served_metrics=metrics,
                    keep=False,
                )
                row["detected"] = scenario.detected(row["reasons"])
                found.setdefault(scenario.name, []).append(row)
            found["none"].append(
                judge(
                    deployment, window, movies, config, served, served_metrics=metrics
                )
            )
        modes[mode] = found
    return {"n_train": len(train), "n_feedback": len(feedback), **modes}


def known_users(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    config: MonitoringConfig,
    rows: int,
    stride: int,
) -> dict[str, Any]:
    judged = known_user_windows(
        cohort(ratings, early=False),
        movies,
        config,
        rows,
        stride,
        scenarios=INFLATION,
    )
    result: dict[str, Any] = {
        "users": "arrived from 2008 on (the others calibrate the thresholds)",
        "n_train": judged["n_train"],
        "n_feedback": judged["n_feedback"],
    }
    for mode in ("first_deployment", "steady_state"):
        result[mode] = summarize(judged[mode]["none"])
    result["steady_state"]["detection"] = {
        scenario.name: detection(judged["steady_state"][scenario.name], scenario)
        for scenario in INFLATION
    }
    return result


def detection(rows: list[dict[str, Any]], scenario: Scenario) -> dict[str, Any]:
    """Windows where the injected scenario was detected with its own reason."""
    assessed = [r for r in rows if r["assessed"]]
    hits = sum(bool(r["detected"]) for r in assessed)
    return {
        "description": scenario.description,
        "windows": len(assessed),
        "detected": hits,
        "rate": round(hits / len(assessed), 4) if assessed else None,
    }


def replayed_rows(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    config: MonitoringConfig,
    windows: list[pd.DataFrame],
    keep: int,
    *,
    scramble: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Judge each window at first deployment and in steady state, three ways.

    ``steady_state``: retrained on every rating before each window (a nightly
    retrain: no window of the same deployment to compare residuals and metrics
    with); ``steady_state_kept``: a deployment serves ``keep`` windows in a row
    before the next retrain (the columns of reference ``deployment`` and decay
    against served traffic are judged on all but its first window);
    ``steady_state_triggered``: the loop, a deployment serves windows until a
    decision says retrain or it has served ``keep`` windows.

    With ``scramble``, each kept window after a deployment's first is judged
    again with the model broken (:func:`scrambled`; nothing kept).

    Returns:
        One row per judged window (:func:`judge`) under each mode's name; the kept
        and triggered rows with the ``deployment_age`` of their window;
        ``scrambled``: the broken model's rows (empty without ``scramble``).
    """
    first, steady, kept, triggered, broken_rows = [], [], [], [], []
    served: dict[str, ProfileView] = {}
    metrics: dict[str, dict[str, Any]] = {}
    served_kept: dict[str, ProfileView] = {}
    metrics_kept: dict[str, dict[str, Any]] = {}
    served_triggered: dict[str, ProfileView] = {}
    metrics_triggered: dict[str, dict[str, Any]] = {}
    deployed: Deployment | None = None
    loop: Deployment | None = None
    loop_age = 0
    judged = 0
    for window in windows:
        before = ratings[ratings["timestamp"] < window["timestamp"].min()]
        if len(before) < MIN_HISTORY:
            continue
        deployment = Deployment(before, movies, version=judged + 1)
        first.append(judge(deployment, window, movies, config, None))
        steady.append(
            judge(deployment, window, movies, config, served, served_metrics=metrics)
        )
        if deployed is None or judged % keep == 0:
            deployed = deployment
        age = judged % keep
        if scramble and age:
            broken = judge(
                scrambled(deployed, seed=judged),
                window,
                movies,
                config,
                served_kept,
                served_metrics=metrics_kept,
                keep=False,
            )
            broken_rows.append(broken)
        row = judge(
            deployed, window, movies, config, served_kept, served_metrics=metrics_kept
        )
        kept.append(row | {"deployment_age": age})
        # The loop: retrained when the last window's decision said so, or when
        # the deployment has served ``keep`` windows.
        if loop is None or loop_age >= keep or triggered[-1]["retrain"]:
            loop, loop_age = deployment, 0
        row = judge(
            loop,
            window,
            movies,
            config,
            served_triggered,
            served_metrics=metrics_triggered,
        )
        triggered.append(row | {"deployment_age": loop_age})
        loop_age += 1
        judged += 1
    return {
        "first_deployment": first,
        "steady_state": steady,
        "steady_state_kept": kept,
        "steady_state_triggered": triggered,
        "scrambled": broken_rows,
    }


def broken_model(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How often a scrambled model (:func:`scrambled`) is caught."""
    assessed = [r for r in rows if r["assessed"]]
    ndcg = sum(
        any(reason.startswith("decay in 'ndcg@10'") for reason in r["reasons"])
        for r in assessed
    )
    retrain = sum(r["retrain"] for r in assessed)
    return {
        "description": (
            "the kept deployment's model with its item biases and popularity "
            "order permuted"
        ),
        "windows": len(assessed),
        "ndcg_decay": ndcg,
        "ndcg_decay_share": round(ndcg / len(assessed), 4) if assessed else None,
        "retrain": retrain,
        "retrain_share": round(retrain / len(assessed), 4) if assessed else None,
    }


def replayed(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    config: MonitoringConfig,
    streams: dict[str, list[pd.DataFrame]],
    keep: int,
) -> dict[str, Any]:
    """:func:`replayed_rows` of each stream, pooled and summarized per mode.

    Each stream (a calendar of quarters) is replayed on its own; the windows of
    all are summarized together, and over the windows from 2008 on
    (``from_2008``): the windows before calibrate the new users' thresholds
    (``bench/monitoring.py``), so only these are out of sample.
    """
    rows: dict[str, list[dict[str, Any]]] = {}
    for stream, windows in streams.items():
        for mode, judged in replayed_rows(
            ratings, movies, config, windows, keep, scramble=True
        ).items():
            rows.setdefault(mode, []).extend(r | {"stream": stream} for r in judged)
    kept, triggered = rows["steady_state_kept"], rows["steady_state_triggered"]
    found: dict[str, Any] = {
        "first_deployment": summarize(rows["first_deployment"]),
        "steady_state": summarize(rows["steady_state"]),
        "steady_state_kept": summarize(kept)
        | {
            "windows_per_deployment": keep,
            "after_first_window": summarize(
                [r for r in kept if r["deployment_age"] > 0]
            ),
            "scrambled_model": broken_model(rows["scrambled"]),
        },
        "steady_state_triggered": summarize(triggered)
        | {
            "max_windows_per_deployment": keep,
            "deployments": sum(r["deployment_age"] == 0 for r in triggered),
            "after_first_window": summarize(
                [r for r in triggered if r["deployment_age"] > 0]
            ),
        },
    }
    for mode, judged in rows.items():
        if mode == "scrambled":
            continue
        found[mode]["from_2008"] = summarize(
            [r for r in judged if r["window"] >= str(COHORT_SPLIT.date())]
        )
    return found


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assessed = [r for r in rows if r["assessed"]]
    retrains = [r for r in assessed if r["retrain"]]
    reasons = Counter(reason.split(":")[0] for r in retrains for reason in r["reasons"])
    share = 1 - len(retrains) / len(assessed) if assessed else float("nan")
    return {
        "windows": len(rows),
        "assessed": len(assessed),
        "retrain_false": len(assessed) - len(retrains),
        "retrain_false_share": round(share, 4),
        "goal": GOAL,
        "pass": bool(len(assessed) >= 100 and share >= GOAL),
        "mean_known_user_share": round(
            float(np.mean([r["known_share"] for r in rows])) if rows else 0.0, 4
        ),
        "retrain_reasons": dict(reasons.most_common()),
        "retrain_windows": [
            {"window": r["window"], "stream": r.get("stream"), "reasons": r["reasons"]}
            for r in retrains[:20]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("reports/bench/monitoring_traffic.json")
    )
    parser.add_argument("--rows", type=int, default=1000, help="rows per window")
    parser.add_argument(
        "--stride", type=int, default=90, help="known users: rows between windows"
    )
    parser.add_argument("--replay-rows", type=int, default=REPLAY_ROWS)
    parser.add_argument(
        "--keep",
        type=int,
        default=KEEP,
        help="replayed traffic: windows a deployment serves before the next retrain "
        "(kept mode), at most (triggered mode)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    ratings, movies = load_ratings_and_movies(ml_small_dir())
    config = MonitoringConfig()
    results = {
        "known_users": known_users(ratings, movies, config, args.rows, args.stride),
        "replayed_chunks": replayed(
            ratings,
            movies,
            config,
            {"chunks": chunks(ratings, args.replay_rows)},
            args.keep,
        ),
        "replayed_quarters": replayed(
            ratings,
            movies,
            config,
            {
                calendar: [w.ratings for w in split_windows(ratings, freq=calendar)]
                for calendar in QUARTER_CALENDARS
            },
            args.keep,
        ),
    }
    for name, result in results.items():
        for mode in (
            "first_deployment",
            "steady_state",
            "steady_state_kept",
            "steady_state_triggered",
        ):
            if mode not in result:
                continue
            found = result[mode]
            print(
                f"{name:18} {mode:17} windows {found['assessed']:4} "
                f"retrain:false {found['retrain_false_share']:.3f} "
                f"{found['retrain_reasons']}"
            )
            if "scrambled_model" in found:
                hit = found["scrambled_model"]
                print(
                    f"{'':37}scrambled model: ndcg decay {hit['ndcg_decay_share']}, "
                    f"retrain {hit['retrain_share']} of {hit['windows']}"
                )
            for scenario, hit in found.get("detection", {}).items():
                print(f"{'':37}{scenario}: detected {hit['rate']} of {hit['windows']}")
    write_json(
        args.out,
        {
            "benchmark": "monitoring on ordinary traffic (issue 17)",
            "data": str(ml_small_dir()),
            "protocol": __doc__.split("Usage::")[0].strip(),
            "machine": machine_info(),
            "window_rows": {
                "known_users": args.rows,
                "known_users_stride": args.stride,
                "replayed": args.replay_rows,
                "replayed_windows_per_deployment": args.keep,
            },
            "config": config.model_dump(mode="json"),
            **results,
            "total_seconds": round(time.perf_counter() - started, 1),
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
