"""The retrain decision for one window, from drift, data quality and decay.

Rules, in order:

1. A failed quality check blocks retraining (``quality.block_retrain``): a model
   must not be retrained on broken data. The failure is a reason; drift and decay
   are still reported in the scores.
2. Otherwise retrain when any column is in the DRIFT category or any metric decayed
   past its limit; each is one reason.
3. A suspicious rater (:func:`~reelops_monitoring.raters.screen_raters`: a flood
   of one value) is a reason of its own, never a retrain: the window was judged
   without the user's ratings, which are quarantined.

POSSIBLE_DRIFT never triggers anything: it is visible in the scores only. A window
too small to assess (drift or decay) contributes no reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reelops_monitoring.decay import assess_decay
from reelops_monitoring.drift import detect_drift
from reelops_monitoring.quality import check_quality

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from reelops_monitoring.adapter import ProfileView
    from reelops_monitoring.config import MonitoringConfig
    from reelops_monitoring.decay import DecayVerdict
    from reelops_monitoring.drift import DriftReport
    from reelops_monitoring.quality import QualityResult
    from reelops_monitoring.raters import RaterScreen

__all__ = ["Decision", "assess_window", "decide"]

_BLOCKED = "retraining blocked until the upstream data is fixed"


@dataclass(frozen=True)
class Decision:
    """Whether to retrain, why, and every score behind it."""

    retrain: bool
    reasons: tuple[str, ...]
    scores: dict[str, Any] = field(default_factory=dict)

    @property
    def alert(self) -> bool:
        """Whether anything was flagged (a retrain, or a blocking quality failure)."""
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """``{"retrain": bool, "reasons": [...], "scores": {...}}`` (JSON-ready)."""
        return {
            "retrain": self.retrain,
            "reasons": list(self.reasons),
            "scores": self.scores,
        }


def decide(
    drift: DriftReport,
    quality: Sequence[QualityResult],
    decay: DecayVerdict | None,
    *,
    block_retrain_on_quality: bool = True,
    raters: RaterScreen | None = None,
) -> Decision:
    """Combine a window's drift report, quality results and decay verdict.

    Args:
        drift: From :func:`~reelops_monitoring.drift.detect_drift`.
        quality: From :func:`~reelops_monitoring.quality.check_quality`.
        decay: From :func:`~reelops_monitoring.decay.assess_decay`, or ``None``
            when the window has no feedback metrics.
        block_retrain_on_quality: A failed quality check vetoes retraining.
        raters: From :func:`~reelops_monitoring.raters.screen_raters`, or None.

    Returns:
        The decision; its reasons are one line each (drift, then decay, then
        quality, then suspicious raters).
    """
    failed = [q for q in quality if not q.passed]
    triggers = [c.reason() for c in drift.drifted]
    triggers += [m.reason() for m in decay.decayed] if decay is not None else []
    blocked = bool(failed) and block_retrain_on_quality
    reasons = triggers + [q.reason() for q in failed]
    if blocked:
        reasons.append(_BLOCKED)
    reasons += raters.reasons() if raters is not None else ()
    scores: dict[str, Any] = {
        "drift": drift.to_dict(),
        "quality": {q.name: q.to_dict() for q in quality},
        "decay": None if decay is None else decay.to_dict(),
        "raters": None if raters is None else raters.to_dict(),
    }
    return Decision(
        retrain=bool(triggers) and not blocked, reasons=tuple(reasons), scores=scores
    )


def assess_window(
    reference: ProfileView | None,
    target: ProfileView,
    config: MonitoringConfig,
    *,
    traffic: ProfileView | None = None,
    deployment: ProfileView | None = None,
    correlation: Mapping[str, float] | None = None,
    training_metrics: Mapping[str, Any] | None = None,
    window_metrics: Mapping[str, Any] | None = None,
    traffic_metrics: Mapping[str, Any] | None = None,
    n_feedback: int = 0,
    raters: RaterScreen | None = None,
) -> Decision:
    """Drift, quality and (when metrics are given) decay, then :func:`decide`.

    ``reference`` is the deployed model's training data, ``traffic`` the previous
    windows of served traffic (merged), ``deployment`` those of them measured
    against the same training data as ``target``; each drift column uses the
    first of its configured references that is given; ``correlation``
    (intra-user, per column, from the training data) sets the effective sample
    sizes. Decay
    compares ``window_metrics`` with ``training_metrics`` (the holdout) or
    ``traffic_metrics`` (the earlier windows' mean), as each metric is configured.
    ``raters`` (:func:`~reelops_monitoring.raters.screen_raters` of the window
    before it was profiled without the flagged users) adds their reasons.
    """
    decay = None
    if window_metrics is not None and (
        training_metrics is not None or traffic_metrics is not None
    ):
        decay = assess_decay(
            training_metrics,
            window_metrics,
            config.decay,
            n_feedback=n_feedback,
            traffic_metrics=traffic_metrics,
        )
    return decide(
        detect_drift(
            {"training": reference, "traffic": traffic, "deployment": deployment},
            target,
            config.drift,
            correlation=correlation,
        ),
        check_quality(target, config.quality),
        decay,
        block_retrain_on_quality=config.quality.block_retrain,
        raters=raters,
    )
