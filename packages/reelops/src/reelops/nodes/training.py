"""Training stage: split, fit every candidate, evaluate, compare, pick a champion."""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from reelops._pydantic import as_config, parse_config
from reelops._types import BaseRecommender, Figure
from reelops.challenger import ChallengerPackage, Rejection

__all__ = [
    "candidate_mlflow_metrics",
    "compare_candidates",
    "evaluate_candidate",
    "evaluate_champion",
    "fit_candidate",
    "package_challenger",
    "plot_comparison",
    "relative_improvement",
    "report_comparison",
    "select_champion",
    "split_ratings",
]

#: Metrics where lower is better; every other metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "fit_seconds", "predict_seconds"})
_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Config):
    """How ratings are split into train and test (``parameters_training.yml``)."""

    strategy: Literal["hash", "random", "temporal", "leave_last_n"] = "hash"
    test_size: float = 0.2
    n: int = 1
    seed: int = 42


class EstimatorSpec(_Config):
    """A candidate: a recsys estimator by short name and its hyperparameters.

    ``use_tuned``: whether values of ``parameters_tuned.yml`` override ``params``.
    The estimator is built once when the spec is validated, so an unknown name or
    hyperparameter (nested ones included) fails before anything is fitted.
    """

    name: str
    params: dict[str, Any] = {}
    use_tuned: bool = True

    @model_validator(mode="after")
    def _buildable(self) -> EstimatorSpec:
        from recsys import make_estimator
        from recsys.exceptions import InvalidParameterError, UnknownEstimatorError

        try:
            make_estimator(self.name, self.params)
        except (UnknownEstimatorError, InvalidParameterError) as exc:
            raise ValueError(" ".join(str(exc).split())) from exc
        return self


class EvaluationConfig(_Config):
    """The evaluation protocol: cut-off ``k`` of the ranking metrics."""

    k: int = 10


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


def split_ratings(
    ratings: pd.DataFrame, split: SplitConfig
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split ratings into (train, test, summary) by the configured strategy."""
    from recsys import hash_split, leave_last_n_split, random_split, temporal_split

    cfg = as_config(SplitConfig, split, "parameters 'split'")
    data = ratings[_COLUMNS]
    if cfg.strategy == "hash":
        train, test = hash_split(data, test_size=cfg.test_size, seed=cfg.seed)
    elif cfg.strategy == "random":
        train, test = random_split(data, test_size=cfg.test_size, random_state=cfg.seed)
    elif cfg.strategy == "temporal":
        train, test = temporal_split(data, test_size=cfg.test_size)
    else:
        train, test = leave_last_n_split(data, n=cfg.n)
    summary = {
        "strategy": cfg.strategy,
        "seed": cfg.seed,
        "test_size": cfg.test_size,
        "n_train": len(train),
        "n_test": len(test),
        "n_train_users": int(train["user_id"].nunique()),
        "n_train_movies": int(train["movie_id"].nunique()),
    }
    return train.reset_index(drop=True), test.reset_index(drop=True), summary


def _jsonable(value: Any) -> Any:
    """A JSON-safe view of a hyperparameter (estimators become their repr)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def _seeded(model: BaseRecommender, seed: int) -> BaseRecommender:
    """Set ``random_state`` wherever the config left it unset (reproducible runs)."""
    unset = {
        key: seed
        for key, value in model.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return model.set_params(**unset) if unset else model


def fit_candidate(
    train_ratings: pd.DataFrame,
    estimator: EstimatorSpec,
    tuned_params: dict[str, Any],
    seed: int,
) -> tuple[BaseRecommender, dict[str, Any]]:
    """Fit one candidate on the train split; also report its parameters and fit time.

    ``random_state`` defaults to ``seed`` wherever the config leaves it unset.
    """
    from recsys import make_estimator

    spec = as_config(EstimatorSpec, estimator, "candidate 'estimator'")
    params = dict(spec.params)
    tuned = (tuned_params or {}).get(spec.name, {}) if spec.use_tuned else {}
    params.update(tuned)
    model = _seeded(make_estimator(spec.name, params), seed)
    X = train_ratings[["user_id", "movie_id", "timestamp"]]
    start = time.perf_counter()
    model.fit(X, train_ratings["rating"].to_numpy())
    fit_seconds = time.perf_counter() - start
    report = {
        "estimator": spec.name,
        "params": {k: _jsonable(v) for k, v in model.get_params(deep=False).items()},
        "tuned": sorted(tuned),
        "fit_seconds": round(fit_seconds, 4),
    }
    return model, report


def evaluate_candidate(
    model: BaseRecommender,
    fit_report: dict[str, Any],
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> dict[str, Any]:
    """RMSE/MAE on the test ratings and top-k metrics by the ranking protocol."""
    from recsys import evaluate_ranking, mae_error, rmse_error

    cfg = as_config(EvaluationConfig, evaluation, "parameters 'evaluation'")
    X = test_ratings[["user_id", "movie_id", "timestamp"]]
    start = time.perf_counter()
    predicted = model.predict(X)
    predict_seconds = time.perf_counter() - start
    y = test_ratings["rating"].to_numpy()
    ranking = evaluate_ranking(model, train_ratings, test_ratings, k=cfg.k)
    k = cfg.k
    return {
        "estimator": fit_report["estimator"],
        "rmse": round(float(rmse_error(y, predicted)), 6),
        "mae": round(float(mae_error(y, predicted)), 6),
        f"precision@{k}": round(float(ranking[f"precision_at_{k}"]), 6),
        f"recall@{k}": round(float(ranking[f"recall_at_{k}"]), 6),
        f"ndcg@{k}": round(float(ranking[f"ndcg_at_{k}"]), 6),
        f"map@{k}": round(float(ranking[f"map_at_{k}"]), 6),
        f"coverage@{k}": round(float(ranking[f"coverage_at_{k}"]), 6),
        "fit_seconds": fit_report["fit_seconds"],
        "predict_seconds": round(predict_seconds, 4),
        "n_test": len(test_ratings),
    }


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
    metrics = evaluate_candidate(
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


def relative_improvement(metric: str, value: float, reference: float) -> float:
    """Relative improvement of ``value`` over ``reference`` (positive is better)."""
    if reference == 0:
        return 0.0 if value == 0 else float("inf")
    delta = (reference - value) if metric in LOWER_IS_BETTER else (value - reference)
    return delta / abs(reference)


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

    def order(name: str) -> tuple[float, ...]:
        return tuple(
            candidates[name].get(m, 0.0) * (1 if m in LOWER_IS_BETTER else -1)
            for m in (metric, cfg.secondary_metric)
        )

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
    **models: BaseRecommender,
) -> ChallengerPackage | Rejection:
    """What the registry dataset registers: the chosen model, or why not.

    The split chose the model; it is not what is served. The chosen configuration
    is fitted again on every rating (``ratings``: the validated ratings plus the
    accepted feedback), so no rating, and no user's feedback, is left out of the
    served model. The split's fit is registered beside it as the evaluation
    estimator: the one promotion gates score on held-out pairs.
    """
    from sklearn.base import clone

    name = champion_decision["champion"]
    if not champion_decision["register"]:
        return Rejection(candidate=name, reasons=list(champion_decision["reasons"]))
    data = ratings[_COLUMNS].reset_index(drop=True)
    started = time.perf_counter()
    served = clone(models[name]).fit(
        data[["user_id", "movie_id", "timestamp"]], data["rating"].to_numpy()
    )
    example = data[["user_id", "movie_id"]].head(5).astype("int64")
    metrics = candidate_table["candidates"][name]
    return ChallengerPackage(
        candidate=name,
        estimator=served,
        evaluation_estimator=models[name],
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        input_example=example,
        tags={
            "served_fit.ratings": str(len(data)),
            "served_fit.seconds": f"{time.perf_counter() - started:.2f}",
        },
    )


def plot_comparison(model_comparison: dict[str, Any]) -> Figure:
    """Bar charts of RMSE and NDCG per candidate (the comparison at a glance)."""
    from matplotlib.figure import Figure

    candidates = model_comparison["candidates"]
    names = list(candidates)
    ndcg_key = next(k for k in next(iter(candidates.values())) if k.startswith("ndcg@"))
    fig = Figure(figsize=(10, 4), dpi=100)
    left, right = fig.subplots(1, 2)
    for ax, key, colour in ((left, "rmse", "#3b75af"), (right, ndcg_key, "#e1812c")):
        values = np.array([candidates[n][key] for n in names], dtype=float)
        ax.barh(names, values, color=colour)
        ax.set_title(
            f"{key} ({'lower' if key in LOWER_IS_BETTER else 'higher'} is better)"
        )
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.4f}", va="center", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def candidate_mlflow_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """A candidate's numeric metrics as MLflow metrics (``@`` becomes ``_at_``)."""
    return {
        k.replace("@", "_at_"): {"value": float(v), "step": 0}
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
