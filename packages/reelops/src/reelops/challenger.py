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
    """A candidate that passed every gate, with what its registry entry records.

    ``estimator`` is the model to serve; ``evaluation_estimator`` the same
    configuration fitted on the training part of the split only, which promotion
    gates evaluate on held-out pairs it never saw (``None``: the served one is
    evaluated). Where it is registered (name, alias) is the registry dataset's
    configuration, never the package's.
    """

    candidate: str
    estimator: BaseRecommender
    metrics: dict[str, float]
    input_example: pd.DataFrame
    tags: dict[str, str] = field(default_factory=dict)
    evaluation_estimator: BaseRecommender | None = None


@dataclass(frozen=True)
class Rejection:
    """A candidate that failed a gate: it is not registered, and these say why."""

    candidate: str
    reasons: list[str]
