"""Performance decay: the deployed model now versus when it was trained.

The caller computes the metrics with recsys (``rmse`` on the window's ratings,
``ndcg@10`` by the ranking protocol) with the same keys as the training report:
the names of :mod:`recsys.vocabulary`, which says which way each is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reelops_monitoring.errors import MissingColumnError
from reelops_monitoring.numbers import finite_or_none

if TYPE_CHECKING:
    from collections.abc import Mapping

    from reelops_monitoring.config import DecayConfig

__all__ = ["DecayVerdict", "MetricDecay", "assess_decay", "relative_degradation"]


@dataclass(frozen=True)
class MetricDecay:
    """One metric at training time and on the window."""

    metric: str
    training: float
    window: float
    degradation: float
    limit: float

    @property
    def decayed(self) -> bool:
        """Whether the metric degraded by more than its limit."""
        return self.degradation > self.limit

    def reason(self) -> str:
        """One line: ``decay in 'rmse': 0.95 -> 1.08 (+13.7% worse, limit 10.0%)``."""
        return (
            f"decay in '{self.metric}': {self.training:.4g} -> {self.window:.4g} "
            f"({self.degradation:+.1%} worse, limit {self.limit:.1%})"
        )


@dataclass(frozen=True)
class DecayVerdict:
    """Every configured metric's decay on one window's feedback."""

    n_feedback: int
    min_feedback_rows: int
    metrics: tuple[MetricDecay, ...]
    #: Configured metrics the window has no value for (e.g. ranking metrics on a
    #: window whose every pair the model was trained on): not assessed.
    unmeasured: tuple[str, ...] = ()

    @property
    def assessed(self) -> bool:
        """Whether the window had enough feedback to judge."""
        return self.n_feedback >= self.min_feedback_rows

    @property
    def decayed(self) -> tuple[MetricDecay, ...]:
        """The metrics past their limit (none when not assessed)."""
        if not self.assessed:
            return ()
        return tuple(m for m in self.metrics if m.decayed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{metric: relative degradation}`` plus the feedback size."""
        return {
            "n_feedback": self.n_feedback,
            "assessed": self.assessed,
            "metrics": {
                m.metric: {
                    "training": m.training,
                    "window": m.window,
                    # infinite when the training value is 0: null in JSON
                    "degradation": finite_or_none(m.degradation),
                }
                for m in self.metrics
            },
            "unmeasured": list(self.unmeasured),
        }


def relative_degradation(metric: str, training: float, window: float) -> float:
    """How much worse ``window`` is than ``training``, relative (negative: better).

    The opposite of ``recsys.relative_improvement(metric, window, training)``, in
    ``metric``'s direction; infinite when ``training`` is 0 and ``window`` is not.

    Raises:
        UnknownMetricError: If ``metric`` is not in :mod:`recsys.vocabulary`.
    """
    from recsys import relative_improvement

    # 0.0 - x rather than -x: no negative zero for an unchanged metric.
    return 0.0 - relative_improvement(metric, window, training)


def assess_decay(
    training_metrics: Mapping[str, float],
    window_metrics: Mapping[str, float],
    config: DecayConfig,
    *,
    n_feedback: int,
) -> DecayVerdict:
    """Compare every configured metric on the window with its training value.

    Args:
        training_metrics: The deployed model's metrics when it was evaluated.
        window_metrics: Its metrics on the window's feedback; a configured metric
            absent here is not assessed (listed in ``unmeasured``).
        config: Metrics (named as in :mod:`recsys.vocabulary`, which gives their
            directions), limits and the minimum feedback size.
        n_feedback: Ratings the window metrics were computed on.

    Raises:
        MissingColumnError: If a configured metric is missing from the training
            metrics.
    """
    metrics = []
    unmeasured = []
    for name, spec in config.metrics.items():
        if name not in training_metrics:
            raise MissingColumnError(
                f"decay metric '{name}' missing from the training metrics, "
                f"got {sorted(training_metrics)}"
            )
        if window_metrics.get(name) is None:
            unmeasured.append(name)
            continue
        training, window = float(training_metrics[name]), float(window_metrics[name])
        metrics.append(
            MetricDecay(
                metric=name,
                training=training,
                window=window,
                degradation=relative_degradation(name, training, window),
                limit=spec.max_relative_degradation,
            )
        )
    return DecayVerdict(
        n_feedback=n_feedback,
        min_feedback_rows=config.min_feedback_rows,
        metrics=tuple(metrics),
        unmeasured=tuple(unmeasured),
    )
