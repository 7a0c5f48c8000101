"""Which way a metric is better, and by how much one value improves on another."""

from __future__ import annotations

__all__ = ["LOWER_IS_BETTER", "relative_improvement"]

#: Metrics where lower is better; every other metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "fit_seconds", "predict_seconds"})


def relative_improvement(metric: str, value: float, reference: float) -> float:
    """Relative improvement of ``value`` over ``reference`` (positive is better)."""
    if reference == 0:
        return 0.0 if value == 0 else float("inf")
    delta = (reference - value) if metric in LOWER_IS_BETTER else (value - reference)
    return delta / abs(reference)
