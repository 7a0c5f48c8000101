"""What the training pipeline records in MLflow, as plain values (no MLflow import).

Each candidate gets a nested child run of the pipeline run, named after it, so the
MLflow UI compares candidates side by side: a :class:`CandidateRun` holds what that
child records (effective hyperparameters, unprefixed metrics, the frames it was
fitted and scored on). A :class:`TrainingSummary` is what the pipeline run itself
keeps: the champion, its metrics, and the role of every candidate. The catalog
datasets of :mod:`reelops.datasets.candidate_run` write them; nodes only build them.

MLflow keys accept letters, digits and ``_ - . / : space``, not ``@``: ``ndcg@10``
is recorded as ``ndcg_at_10``, the name the project's registry tags already use.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

__all__ = [
    "CANDIDATE_TAG",
    "MAX_PARAM_LENGTH",
    "ROLE_TAG",
    "CandidateRun",
    "TrainingSummary",
    "estimator_params",
    "frame_digest",
    "mlflow_key",
    "mlflow_metrics",
]

#: Tag naming the candidate of a child run (and how a child run is found again).
CANDIDATE_TAG = "reelops.candidate"
#: Tag of a child run's role: ``champion``, ``baseline``, ``champion+baseline``
#: or ``candidate``.
ROLE_TAG = "reelops.role"
#: MLflow's limit on a parameter value (longer ones are truncated).
MAX_PARAM_LENGTH = 6000

_INVALID_KEY = re.compile(r"[^\w\-. /:]")


def mlflow_key(name: str) -> str:
    """``ndcg@10`` -> ``ndcg_at_10``: a metric or parameter name MLflow accepts."""
    return _INVALID_KEY.sub("_", name.replace("@", "_at_"))


def mlflow_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric items of ``metrics`` under MLflow-valid keys (booleans dropped)."""
    return {
        mlflow_key(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def estimator_params(estimator: Any) -> dict[str, str]:
    """``estimator.get_params()`` (deep: ``a__b`` for nested ones) as MLflow params.

    Values are ``str()`` of the effective value, truncated to MLflow's limit: what
    the fitted estimator used, seeds and tuned values included.
    """
    return {
        mlflow_key(k): str(v)[:MAX_PARAM_LENGTH]
        for k, v in sorted(estimator.get_params(deep=True).items())
    }


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a frame's columns and every row (MLflow's own digest samples rows)."""
    import pandas as pd

    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class CandidateRun:
    """What one candidate's child run records (the dataset knows which candidate).

    ``inputs`` maps a context (``training``, ``evaluation``) to the frame used in it,
    by its catalog name: ``{"training": ("train_ratings", frame)}``.
    """

    estimator: str
    params: dict[str, str]
    metrics: dict[str, float]
    inputs: dict[str, tuple[str, pd.DataFrame]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingSummary:
    """What the pipeline run keeps: the champion, its metrics, each candidate's role."""

    champion: str
    metrics: dict[str, float]
    roles: dict[str, str]
    registered: bool
