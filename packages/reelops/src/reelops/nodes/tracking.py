"""Tracking records of the training stage: what MLflow shows to compare candidates.

The functions only build values (:mod:`reelops.tracking`); the catalog datasets of
:mod:`reelops.datasets.candidate_run` write them to MLflow.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reelops._types import BaseRecommender
from reelops.tracking import (
    CandidateRun,
    TrainingSummary,
    estimator_params,
    mlflow_metrics,
)

__all__ = ["summarize_training", "track_candidate"]


def track_candidate(
    model: BaseRecommender,
    metrics: dict[str, Any],
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
) -> CandidateRun:
    """A candidate's child run: effective hyperparameters, metrics, data used."""
    return CandidateRun(
        estimator=str(metrics["estimator"]),
        params=estimator_params(model),
        metrics=mlflow_metrics(metrics),
        inputs={
            "training": ("train_ratings", train_ratings),
            "evaluation": ("test_ratings", test_ratings),
        },
    )


def _role(name: str, champion: str, baseline: str) -> str:
    roles = [
        r for r, n in (("champion", champion), ("baseline", baseline)) if n == name
    ]
    return "+".join(roles) or "candidate"


def summarize_training(
    champion_decision: dict[str, Any], candidate_table: dict[str, Any]
) -> TrainingSummary:
    """The pipeline run's summary: the champion, its metrics, each candidate's role."""
    champion = str(champion_decision["champion"])
    baseline = str(champion_decision["gates"]["beats_baseline"]["baseline"])
    candidates = candidate_table["candidates"]
    return TrainingSummary(
        champion=champion,
        metrics=mlflow_metrics(candidates[champion]),
        roles={name: _role(name, champion, baseline) for name in sorted(candidates)},
        registered=bool(champion_decision["register"]),
    )
