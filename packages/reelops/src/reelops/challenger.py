"""What the training pipeline hands to the model registry: a model, or a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from recsys import BaseRecommender

__all__ = ["ChallengerPackage", "Rejection"]


@dataclass(frozen=True, eq=False)
class ChallengerPackage:
    """A candidate that passed every gate, with what its registry entry records."""

    candidate: str
    estimator: BaseRecommender
    model_name: str
    alias: str
    metrics: dict[str, float]
    input_example: pd.DataFrame
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    """A candidate that failed a gate: it is not registered, and these say why."""

    candidate: str
    reasons: list[str]
