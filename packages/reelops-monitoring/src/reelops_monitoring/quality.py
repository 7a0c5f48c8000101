"""Data-quality checks of a window's profile (whylogs constraints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reelops_monitoring.adapter import check_constraints, summarize_view

if TYPE_CHECKING:
    from reelops_monitoring.adapter import ProfileView
    from reelops_monitoring.config import QualityConfig

__all__ = ["QualityResult", "check_quality"]


@dataclass(frozen=True)
class QualityResult:
    """One constraint's outcome on one window."""

    name: str
    column: str
    passed: bool
    detail: str

    def reason(self) -> str:
        """One line: ``quality check failed: timestamp has no missing values (...)``."""
        return f"quality check failed: {self.name} ({self.detail})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"column": self.column, "passed": self.passed, "detail": self.detail}


def check_quality(view: ProfileView, config: QualityConfig) -> list[QualityResult]:
    """Check ``config``'s constraints on ``view``: one result per constraint.

    The detail says what was measured: ``"1234 of 1234 null"`` for a null check,
    ``"min 0.5, max 5.5"`` for a range, ``"column absent"`` when the profile lacks
    the column.
    """
    outcomes = check_constraints(
        view, not_null=config.not_null, ranges=dict(config.ranges)
    )
    summary: dict[Any, dict[Any, Any]] = summarize_view(view).to_dict(orient="index")
    results = []
    for outcome in outcomes:
        stats = summary.get(outcome.column)
        if stats is None:
            detail = "column absent"
        elif outcome.column in config.not_null and "missing" in outcome.name:
            detail = f"{int(stats['null_count'])} of {int(stats['count'])} null"
        else:
            detail = f"min {stats['min']:g}, max {stats['max']:g}"
        results.append(
            QualityResult(
                name=outcome.name,
                column=outcome.column,
                passed=outcome.passed,
                detail=detail,
            )
        )
    return results
