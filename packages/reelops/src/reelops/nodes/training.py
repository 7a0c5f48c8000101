"""Training stage: fit every candidate, evaluate, compare, pick a champion."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from reelops._pydantic import as_config, parse_config
from reelops._types import BaseRecommender, Figure
from reelops.challenger import ChallengerPackage, PickledEstimator, Rejection
from reelops.evaluation import EvaluationConfig, evaluate_model
from reelops.fitting import EstimatorSpec, fit_estimator
from reelops_contracts import RATING_COLUMNS

__all__ = [
    "compare_candidates",
    "evaluate_candidate",
    "evaluate_champion",
    "fit_candidate",
    "package_challenger",
    "plot_comparison",
    "report_comparison",
    "select_champion",
]

#: What the served refit fits on (the rating is the target).
_FEATURES = [c for c in RATING_COLUMNS if c != "rating"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectionConfig(_Config):
    """Champion selection: which metric ranks the candidates, against what baseline."""

    primary_metric: str = "ndcg@10"
    #: Breaks ties on the primary metric (e.g. a hybrid ranking like EASE but
    #: predicting ratings like the blend wins over EASE alone).
    secondary_metric: str = "rmse"
    baseline: str = "bias"


class TrainingGates(_Config):
    """The gates of a registration (``conf/base/gates.yml``: not run parameters)."""

    #: The champion must beat the baseline candidate by this much (relative).
    min_improvement_over_baseline: float = Field(ge=0.0)
    #: ... and be at most this much worse than the model registered as @champion,
    #: both evaluated on this run's held-out pairs (relative).
    champion_tolerance: float = Field(ge=0.0)


def fit_candidate(
    train_ratings: pd.DataFrame,
    estimator: EstimatorSpec,
    seed: int,
    **fitted: BaseRecommender,
) -> tuple[BaseRecommender, dict[str, Any]]:
    """Fit one candidate on the train split; also report its parameters and fit time.

    ``random_state`` defaults to ``seed`` wherever the config leaves it unset
    (:func:`~reelops.fitting.fit_estimator`). ``fitted``: other candidates of the
    run, by namespace, that a candidate made of them (the hybrid) takes its
    components from when configured alike, instead of fitting them again.
    """
    return fit_estimator(train_ratings, estimator, seed, fitted)


def evaluate_candidate(
    model: BaseRecommender,
    fit_report: dict[str, Any],
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> dict[str, Any]:
    """RMSE/MAE on the test ratings and top-k metrics by the ranking protocol.

    The protocol of :func:`~reelops.evaluation.evaluate_model`.
    """
    return evaluate_model(model, fit_report, train_ratings, test_ratings, evaluation)


def evaluate_champion(
    champion_model: BaseRecommender | None,
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> dict[str, Any]:
    """The registered champion's metrics on this run's test split (``{}`` if none)."""
    if champion_model is None:
        return {}
    report = {"estimator": type(champion_model).__name__, "fit_seconds": 0.0}
    metrics = evaluate_model(
        champion_model, report, train_ratings, test_ratings, evaluation
    )
    return {k: v for k, v in metrics.items() if k not in {"fit_seconds"}}


def compare_candidates(
    split_summary: dict[str, Any], **metrics: dict[str, Any]
) -> dict[str, Any]:
    """One table of every candidate's metrics, plus the split they were measured on."""
    return {
        "split": split_summary,
        "candidates": {name: metrics[name] for name in sorted(metrics)},
    }


def report_comparison(
    candidate_table: dict[str, Any], champion_decision: dict[str, Any]
) -> dict[str, Any]:
    """``model_comparison.json``: every candidate's metrics, the split, the champion."""
    return {
        **candidate_table,
        "champion": champion_decision["champion"],
        "primary_metric": champion_decision["primary_metric"],
        "registered": champion_decision["register"],
    }


def select_champion(
    candidate_table: dict[str, Any],
    champion_metrics: dict[str, Any],
    selection: SelectionConfig,
    gates: dict[str, Any],
) -> dict[str, Any]:
    """Pick the best candidate by the primary metric and check the gates.

    Gates (``gates``: the ``training`` block of ``conf/base/gates.yml``, which no run
    parameter can change): (1) it beats the baseline candidate by
    ``min_improvement_over_baseline`` (relative); (2) it is not worse than the
    registered champion, measured on the same held-out pairs, by more than
    ``champion_tolerance`` (relative). The result says which gates passed, and why
    a candidate is not registered.
    """
    from recsys import direction_of, relative_improvement

    cfg = as_config(SelectionConfig, selection, "parameters 'selection'")
    limits = parse_config(
        TrainingGates, (gates or {}).get("training"), "gates.yml 'training'"
    )
    metric = cfg.primary_metric
    candidates = candidate_table["candidates"]
    missing = [n for n, m in candidates.items() if metric not in m]
    if missing:
        known = ", ".join(sorted(next(iter(candidates.values()))))
        raise ValueError(
            f"primary metric '{metric}' is not measured (expected one of: {known})"
        )
    if cfg.baseline not in candidates:
        raise ValueError(
            f"baseline candidate '{cfg.baseline}' is not among the candidates "
            f"({', '.join(sorted(candidates))})"
        )

    signs = [
        (m, 1 if direction_of(m) == "lower" else -1)
        for m in (metric, cfg.secondary_metric)
    ]

    def order(name: str) -> tuple[float, ...]:
        return tuple(candidates[name].get(m, 0.0) * sign for m, sign in signs)

    ranked = sorted(candidates, key=order)
    best = ranked[0]
    value = candidates[best][metric]
    baseline_value = candidates[cfg.baseline][metric]
    gain = relative_improvement(metric, value, baseline_value)
    checks: dict[str, Any] = {
        "beats_baseline": {
            "passed": best != cfg.baseline
            and gain >= limits.min_improvement_over_baseline,
            "baseline": cfg.baseline,
            "baseline_value": baseline_value,
            "improvement": round(gain, 6),
            "required": limits.min_improvement_over_baseline,
        }
    }
    if champion_metrics:
        champ_value = champion_metrics[metric]
        loss = -relative_improvement(metric, value, champ_value)
        checks["not_worse_than_champion"] = {
            "passed": loss <= limits.champion_tolerance,
            "champion_value": champ_value,
            "relative_loss": round(loss, 6),
            "tolerance": limits.champion_tolerance,
        }
    else:
        checks["not_worse_than_champion"] = {
            "passed": True,
            "note": "no registered champion yet",
        }
    reasons = []
    if not checks["beats_baseline"]["passed"]:
        reasons.append(
            f"{best} {metric}={value} does not beat baseline {cfg.baseline} "
            f"({baseline_value}) by {limits.min_improvement_over_baseline:.1%}"
        )
    if not checks["not_worse_than_champion"]["passed"]:
        reasons.append(
            f"{best} {metric}={value} is worse than the champion "
            f"({champion_metrics[metric]}) by more than {limits.champion_tolerance:.1%}"
        )
    return {
        "champion": best,
        "primary_metric": metric,
        "value": value,
        "ranking": ranked,
        "gates": checks,
        "register": not reasons,
        "reasons": reasons,
    }


def package_challenger(
    champion_decision: dict[str, Any],
    candidate_table: dict[str, Any],
    ratings: pd.DataFrame,
    **models: Callable[[], BaseRecommender],
) -> ChallengerPackage | Rejection:
    """What the registry dataset registers: the chosen model, or why not.

    The split chose the model; it is not what is served. The chosen configuration
    is fitted again on every rating (``ratings``: the validated ratings plus the
    accepted feedback), so no rating, and no user's feedback, is left out of the
    served model. The split's fit is registered beside it as the evaluation
    estimator: the one promotion gates score on held-out pairs.

    ``models`` maps each candidate to a function that loads its split fit
    (``{candidate}.model@lazy``): only the champion's is loaded, so the others'
    weights (gigabytes at 25M ratings) never sit in memory beside the refit; nor
    does the champion's own split fit (loaded for its configuration and let go;
    the package carries its file, which the registry copies byte for byte).
    """
    from sklearn.base import clone

    name = champion_decision["champion"]
    if not champion_decision["register"]:
        return Rejection(candidate=name, reasons=list(champion_decision["reasons"]))
    # The split's fit gives the configuration, then is let go while the refit runs
    # (the refit's peak is the node's; at 25M ratings the fit weighs gigabytes).
    served = clone(models[name]())
    # The columns are taken straight from ``ratings`` (no copy of the whole frame
    # beside it: 25M ratings are a gigabyte).
    started = time.perf_counter()
    served.fit(ratings[_FEATURES], ratings["rating"].to_numpy())
    seconds = time.perf_counter() - started
    # The split's fit is only registered: a pickle file goes to the registry as it
    # is, so it is never in memory beside the served model.
    loader = models[name]
    evaluation = loader if isinstance(loader, PickledEstimator) else loader()
    example = (
        ratings[["user_id", "movie_id"]].head(5).astype("int64").reset_index(drop=True)
    )
    metrics = candidate_table["candidates"][name]
    return ChallengerPackage(
        candidate=name,
        estimator=served,
        evaluation_estimator=evaluation,
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        input_example=example,
        tags={
            "served_fit.ratings": str(len(ratings)),
            "served_fit.seconds": f"{seconds:.2f}",
        },
    )


def plot_comparison(model_comparison: dict[str, Any]) -> Figure:
    """Bar charts of RMSE and NDCG per candidate (the comparison at a glance)."""
    from matplotlib.figure import Figure

    from recsys import direction_of

    candidates = model_comparison["candidates"]
    names = list(candidates)
    ndcg_key = next(k for k in next(iter(candidates.values())) if k.startswith("ndcg@"))
    fig = Figure(figsize=(10, 4), dpi=100)
    left, right = fig.subplots(1, 2)
    for ax, key, colour in ((left, "rmse", "#3b75af"), (right, ndcg_key, "#e1812c")):
        values = np.array([candidates[n][key] for n in names], dtype=float)
        ax.barh(names, values, color=colour)
        ax.set_title(f"{key} ({direction_of(key)} is better)")
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.4f}", va="center", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
