"""What the training pipeline hands to the model registry: a model, or a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from recsys import BaseRecommender

__all__ = ["ChallengerPackage", "PickledEstimator", "Rejection"]


@runtime_checkable
class PickledEstimator(Protocol):
    """A fitted estimator still in its checked pickle file (``{candidate}.model@lazy``).

    Calling it loads the estimator; :meth:`copy_to` copies the file's bytes, checked
    against their recorded sha256, without unpickling them: how the registry stores
    a model it only has to keep.
    """

    def __call__(self) -> BaseRecommender:
        """Load the estimator (its bytes checked first)."""
        ...

    def copy_to(self, target: BinaryIO) -> str:
        """Write the checked pickle's bytes into ``target``; return their sha256."""
        ...


@dataclass(frozen=True, eq=False)
class ChallengerPackage:
    """A candidate that passed every gate, with what its registry entry records.

    ``estimator`` is the model to serve; ``evaluation_estimator`` the same
    configuration fitted on the training part of the split only, which promotion
    gates evaluate on held-out pairs it never saw (``None``: the served one is
    evaluated), given loaded or as its pickle file (copied into the registry as
    it is, never unpickled: at 25M ratings it weighs gigabytes). Where it is
    registered (name, alias) is the registry dataset's configuration, never the
    package's.
    """

    candidate: str
    estimator: BaseRecommender
    metrics: dict[str, float]
    input_example: pd.DataFrame
    tags: dict[str, str] = field(default_factory=dict)
    evaluation_estimator: BaseRecommender | PickledEstimator | None = None


@dataclass(frozen=True)
class Rejection:
    """A candidate that failed a gate: it is not registered, and these say why."""

    candidate: str
    reasons: list[str]
