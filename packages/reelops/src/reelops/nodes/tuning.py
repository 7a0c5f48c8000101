"""Tuning stage: grid search on a validation split carved from the train split."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from reelops._pydantic import as_config

__all__ = ["carve_validation", "search_hyperparameters", "tuned_parameters"]


class SearchSpace(BaseModel):
    """One estimator's grid and the validation metric that picks its best point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = "rmse"
    base: dict[str, Any] = {}
    grid: dict[str, list[Any]]

    @field_validator("metric")
    @classmethod
    def _in_vocabulary(cls, metric: str) -> str:
        from recsys import resolve

        resolve(metric)  # UnknownMetricError (a ValueError) names the known ones
        return metric


class TuningConfig(BaseModel):
    """``parameters_tuning.yml``: the validation split and the search spaces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    validation_size: float = 0.1
    seed: int = 7
    k: int = 10
    search: dict[str, SearchSpace]


def _config(tuning: TuningConfig | dict[str, Any]) -> TuningConfig:
    return as_config(TuningConfig, tuning, "parameters 'tuning'")


def carve_validation(
    train_ratings: pd.DataFrame, tuning: TuningConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the train split again: (fit part, validation part). Test stays unseen."""
    from recsys import random_split

    cfg = _config(tuning)
    fit_part, validation = random_split(
        train_ratings, test_size=cfg.validation_size, random_state=cfg.seed
    )
    return fit_part.reset_index(drop=True), validation.reset_index(drop=True)


def _score(
    model: Any, metric: str, fit_part: pd.DataFrame, validation: pd.DataFrame, k: int
) -> float:
    from recsys import evaluate, resolve

    _, cut = resolve(metric)
    if cut not in {None, k}:
        raise ValueError(f"tuning metric '{metric}' must use k={k}")
    return evaluate(model, fit_part, validation, k=k, metrics=[metric])[metric]


def search_hyperparameters(
    fit_ratings: pd.DataFrame, validation_ratings: pd.DataFrame, tuning: TuningConfig
) -> dict[str, Any]:
    """Fit every grid point on the fit part and score it on the validation part.

    Returns, per estimator, every trial (parameters, score, fit seconds) and the best
    one by the space's metric (in its direction: lower is better for rmse, higher
    for ranking metrics, see :mod:`recsys.vocabulary`).
    """
    from recsys import direction_of, make_estimator

    cfg = _config(tuning)
    X = fit_ratings[["user_id", "movie_id", "timestamp"]]
    y = fit_ratings["rating"].to_numpy()
    results: dict[str, Any] = {}
    for name, space in sorted(cfg.search.items()):
        keys = sorted(space.grid)
        trials: list[dict[str, Any]] = []
        for values in itertools.product(*(space.grid[k] for k in keys)):
            params = {**space.base, **dict(zip(keys, values, strict=True))}
            start = time.perf_counter()
            model = make_estimator(name, params).fit(X, y)
            fit_seconds = time.perf_counter() - start
            score = _score(model, space.metric, fit_ratings, validation_ratings, cfg.k)
            trials.append(
                {
                    "params": params,
                    "score": round(score, 6),
                    "fit_seconds": round(fit_seconds, 3),
                }
            )
        sign = 1 if direction_of(space.metric) == "lower" else -1
        best = min(trials, key=lambda t: sign * float(t["score"]))
        results[name] = {"metric": space.metric, "best": best, "trials": trials}
    return results


def tuned_parameters(tuning_results: dict[str, Any]) -> dict[str, Any]:
    """The proposal ``make tuned`` applies: the best point of every search."""
    return {
        "tuned_params": {
            name: dict(sorted(result["best"]["params"].items()))
            for name, result in sorted(tuning_results.items())
        }
    }
