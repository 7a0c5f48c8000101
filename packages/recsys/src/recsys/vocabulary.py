"""The metric vocabulary: every metric the project reports, defined once.

A metric's *name* is how reports, gates, configuration and :func:`recsys.evaluate`
write it: ``rmse`` and ``mae`` for rating metrics, ``<stem>@<k>`` for ranking
metrics (``ndcg@10``: the cut-off ``k`` is part of the name), and
``fit_seconds`` / ``predict_seconds`` for timings. Each entry says which way is
better and which :mod:`recsys.metrics` function computes it.

* ``rmse``, ``mae`` (rating; :func:`~recsys.metrics.rmse_error`,
  :func:`~recsys.metrics.mae_error`): lower is better;
* ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``, ``coverage@k`` (ranking;
  ``<stem>_at_k_score`` in :mod:`recsys.metrics`, called with ``k``): higher is
  better;
* ``fit_seconds``, ``predict_seconds`` (timing; measured by the caller's clock,
  :func:`recsys.evaluate` measures ``predict_seconds`` when asked): lower is better.

MLflow refuses ``@`` in metric keys; callers that log there spell ``@`` as
``_at_`` (``ndcg_at_10``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from recsys.exceptions import UnknownMetricError
from recsys.metrics import (
    coverage_at_k_score,
    mae_error,
    map_at_k_score,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
    rmse_error,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "METRICS",
    "Direction",
    "Metric",
    "MetricKind",
    "direction_of",
    "is_better",
    "metric_names",
    "relative_improvement",
    "resolve",
]

MetricKind = Literal["rating", "ranking", "timing"]
Direction = Literal["higher", "lower"]

_AT_K = re.compile(r"^(?P<stem>[a-z_]+)@(?P<k>[1-9][0-9]*)$")


@dataclass(frozen=True)
class Metric:
    """One metric of the vocabulary.

    Parameters
    ----------
    stem : str
        The name without its cut-off (``ndcg``; ``rmse``).
    kind : {"rating", "ranking", "timing"}
        Rating metrics compare predicted with true ratings, ranking metrics
        score top-k lists (their name carries ``@k``), timings are measured by
        the caller.
    direction : {"higher", "lower"}
        Which values are better.
    function : callable or None
        The :mod:`recsys.metrics` function computing it (``None`` for timings).
    """

    stem: str
    kind: MetricKind
    direction: Direction
    function: Callable[..., float] | None = None

    @property
    def pattern(self) -> str:
        """The name with ``k`` left open: ``ndcg@k``, ``rmse``."""
        return f"{self.stem}@k" if self.kind == "ranking" else self.stem

    def name(self, k: int = 10) -> str:
        """The metric's name at cut-off ``k`` (ignored unless a ranking metric)."""
        return f"{self.stem}@{k}" if self.kind == "ranking" else self.stem


#: Every metric, in the order reports list them.
METRICS: tuple[Metric, ...] = (
    Metric("rmse", "rating", "lower", rmse_error),
    Metric("mae", "rating", "lower", mae_error),
    Metric("precision", "ranking", "higher", precision_at_k_score),
    Metric("recall", "ranking", "higher", recall_at_k_score),
    Metric("ndcg", "ranking", "higher", ndcg_at_k_score),
    Metric("map", "ranking", "higher", map_at_k_score),
    Metric("coverage", "ranking", "higher", coverage_at_k_score),
    Metric("fit_seconds", "timing", "lower"),
    Metric("predict_seconds", "timing", "lower"),
)

_BY_STEM = {m.stem: m for m in METRICS}


def _unknown(name: object) -> UnknownMetricError:
    expected = ", ".join(m.pattern for m in METRICS)
    return UnknownMetricError(f"unknown metric {name!r} (expected one of: {expected})")


def resolve(name: str) -> tuple[Metric, int | None]:
    """The vocabulary entry a metric name refers to, and its cut-off.

    Parameters
    ----------
    name : str
        ``rmse``, ``ndcg@10``, ...

    Returns
    -------
    (Metric, int or None)
        ``k`` for a ranking metric, ``None`` otherwise.

    Raises
    ------
    UnknownMetricError
        ``name`` is not a metric of the vocabulary (a ranking metric without its
        ``@k``, a rating metric with one, a misspelling).
    """
    if not isinstance(name, str):
        raise _unknown(name)
    match = _AT_K.match(name)
    if match:
        metric = _BY_STEM.get(match["stem"])
        if metric is not None and metric.kind == "ranking":
            return metric, int(match["k"])
    else:
        metric = _BY_STEM.get(name)
        if metric is not None and metric.kind != "ranking":
            return metric, None
    raise _unknown(name)


def direction_of(name: str) -> Direction:
    """``"higher"`` or ``"lower"``: which values of metric ``name`` are better."""
    return resolve(name)[0].direction


def metric_names(
    k: int = 10, *, kinds: tuple[MetricKind, ...] = ("rating", "ranking")
) -> tuple[str, ...]:
    """The names of the metrics of ``kinds`` at cut-off ``k``, in report order."""
    return tuple(m.name(k) for m in METRICS if m.kind in kinds)


def is_better(name: str, value: float, reference: float) -> bool:
    """Whether ``value`` of metric ``name`` is strictly better than ``reference``."""
    if direction_of(name) == "lower":
        return value < reference
    return value > reference


def relative_improvement(name: str, value: float, reference: float) -> float:
    """Relative improvement of ``value`` over ``reference`` (positive is better).

    ``(value - reference) / |reference|``, sign-flipped for lower-is-better
    metrics. When ``reference`` is 0 the improvement is 0 for an equal value and
    infinite otherwise, positive if ``value`` is better.
    """
    higher = direction_of(name) == "higher"
    delta = (value - reference) if higher else (reference - value)
    if reference == 0:
        return 0.0 if delta == 0 else math.copysign(math.inf, delta)
    return delta / abs(reference)
