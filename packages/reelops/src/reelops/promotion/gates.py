"""Promotion gates: pure checks of the evidence gathered for a candidate model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "METRIC_GATE",
    "PUSHED_IMAGE_TAG",
    "Evidence",
    "GateResult",
    "PromotionConfig",
    "check_gates",
]

#: The gate whose failure alone means "no better model": a no-op, not an error.
METRIC_GATE = "beats_current"
#: Run tag of the serving image as pushed, ``<image>:<tag>@sha256:...``.
PUSHED_IMAGE_TAG = "serving.image"


class PromotionConfig(BaseModel):
    """``conf/base/promotion.yml``: where candidates come from and the gates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str
    primary_metric: str = "ndcg@10"
    #: Relative margin by which a candidate must beat the environment's model.
    min_improvement: float = 0.0
    #: Where each promotion takes its candidate: an alias or another environment.
    sources: dict[str, str] = {
        "dev": "alias:challenger",
        "staging": "alias:challenger",
        "prod": "env:staging",
    }
    environments_dir: str = "deploy/environments"
    overlays_dir: str = "deploy/overlays"
    #: The latest monitoring decision; an open drift alarm on the candidate's
    #: training data blocks promotion.
    drift_decision: str = "data/08_reporting/monitoring/decision.json"
    serving_image: str = "ghcr.io/reelops/reelops-serving"

    @field_validator("primary_metric")
    @classmethod
    def _in_vocabulary(cls, metric: str) -> str:
        from recsys import resolve

        resolve(metric)  # UnknownMetricError (a ValueError) names the known ones
        return metric

    def image_for(self, bento_tag: str) -> str:
        """The serving image of a bento: ``<serving_image>:<bento version>``."""
        return f"{self.serving_image}:{bento_tag.rsplit(':', 1)[-1]}"

    def pinned_image(self, bento_tag: str, run_tags: Mapping[str, str]) -> str:
        """:meth:`image_for` the bento, pinned by digest when it was pushed.

        ``make serving-image IMAGE_FLAGS=--push`` records the pushed image as run
        tag :data:`PUSHED_IMAGE_TAG` (``<image>@sha256:...``); without one (built
        locally, never pushed) the image is named by its tag.
        """
        image = self.image_for(bento_tag)
        ref, _, digest = run_tags.get(PUSHED_IMAGE_TAG, "").partition("@")
        return f"{image}@{digest}" if ref == image and digest else image


@dataclass(frozen=True)
class Evidence:
    """What promotion knows about the candidate (and the model it would replace)."""

    version: str
    run_tags: dict[str, str]
    metrics: dict[str, float]
    current_version: str | None = None
    current_metrics: dict[str, float] | None = None
    drift_decision: dict[str, Any] | None = None
    tree_clean: bool = True
    tree_status: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateResult:
    """One gate: its name, whether it passed, and a one-line explanation."""

    name: str
    passed: bool
    detail: str


def _metric_gate(ev: Evidence, cfg: PromotionConfig) -> GateResult:
    from recsys import relative_improvement

    metric = cfg.primary_metric
    value = ev.metrics.get(metric)
    if value is None:
        return GateResult(METRIC_GATE, False, f"candidate has no {metric}")
    if ev.current_metrics is None:
        return GateResult(
            METRIC_GATE, True, f"{metric}={value:.6f}; no model deployed yet"
        )
    if ev.current_version == ev.version:
        return GateResult(
            METRIC_GATE, False, f"version {ev.version} is already deployed here"
        )
    current = ev.current_metrics[metric]
    ok = relative_improvement(metric, value, current) >= cfg.min_improvement
    verb = "beats" if ok else "does not beat"
    return GateResult(
        METRIC_GATE,
        ok,
        f"candidate v{ev.version} {metric}={value:.6f} {verb} current "
        f"v{ev.current_version} {metric}={current:.6f} by the required "
        f"{cfg.min_improvement:.1%} on the same evaluation data",
    )


def _quality_gate(ev: Evidence) -> GateResult:
    quality = ev.run_tags.get("data.quality")
    if quality == "passed":
        return GateResult(
            "data_quality", True, "training data passed its quality check"
        )
    failures = ev.run_tags.get(
        "data.quality.failures", "no data.quality tag on the run"
    )
    return GateResult(
        "data_quality", False, f"training data failed its quality check: {failures}"
    )


def _drift_gate(ev: Evidence) -> GateResult:
    decision = ev.drift_decision
    data_sha = ev.run_tags.get("data.sha256")
    if not decision or not decision.get("retrain"):
        return GateResult("no_drift_alarm", True, "no open drift alarm")
    if decision.get("data_sha256") not in (None, data_sha):
        return GateResult(
            "no_drift_alarm", True, "the open drift alarm concerns newer data"
        )
    reasons = "; ".join(decision.get("reasons", [])) or "retrain requested"
    return GateResult(
        "no_drift_alarm", False, f"open drift alarm on its training data: {reasons}"
    )


def _lineage_gate(ev: Evidence) -> GateResult:
    missing = [
        key
        for key in ("git.sha", "data.sha256", "mlflow.run_id")
        if not ev.run_tags.get(key)
    ]
    if missing:
        return GateResult("lineage", False, f"lineage missing: {', '.join(missing)}")
    if ev.run_tags.get("git.dirty") != "false":
        return GateResult(
            "lineage",
            False,
            f"trained from a dirty working tree at {ev.run_tags['git.sha'][:12]}",
        )
    return GateResult(
        "lineage", True, "git SHA (clean), data sha256 and run id present"
    )


def _packaging_gate(ev: Evidence) -> GateResult:
    bento = ev.run_tags.get("serving.bento_tag")
    if bento:
        return GateResult("packaged", True, f"bento {bento}")
    reason = ev.run_tags.get(
        "serving.skipped_because", "no serving.bento_tag on the run"
    )
    return GateResult("packaged", False, f"no bento to deploy: {reason}")


def _tree_gate(ev: Evidence) -> GateResult:
    if ev.tree_clean:
        return GateResult("clean_tree", True, "working tree is clean")
    return GateResult(
        "clean_tree",
        False,
        f"working tree has uncommitted changes ({ev.tree_status}); commit or stash "
        "them first",
    )


def check_gates(ev: Evidence, cfg: PromotionConfig) -> list[GateResult]:
    """Every gate, in a fixed order; promotion proceeds only if all passed."""
    return [
        _tree_gate(ev),
        _lineage_gate(ev),
        _quality_gate(ev),
        _packaging_gate(ev),
        _drift_gate(ev),
        _metric_gate(ev, cfg),
    ]
