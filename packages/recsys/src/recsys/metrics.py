"""Rating and top-k ranking metrics.

Names follow the scikit-learn convention: ``*_error`` is lower-is-better and
``*_score`` is higher-is-better.

Ranking metrics take ``recommendations``, a mapping ``user -> ranked sequence of
items`` (best first), and ``relevant``, a mapping ``user -> collection of relevant
items``. Relevance is binary. Conventions, shared by every ranking metric:

* The average is over the users of ``relevant`` that have at least one relevant
  item; users with an empty relevant set and users that appear only in
  ``recommendations`` are ignored. If no user has a relevant item, the metric is
  undefined and :class:`~recsys.exceptions.InvalidInputError` is raised.
* A user missing from ``recommendations`` has an empty list (every position a miss).
* Only the first ``k`` recommendations count. A list shorter than ``k`` is padded
  with misses: precision still divides by ``k``.
* A list must not repeat an item within its first ``k`` positions.

Per-user definitions, with ``hit_r`` = 1 if the item at rank ``r`` is relevant and
``R`` = the number of relevant items:

* precision@k = sum(hit_r) / k
* recall@k = sum(hit_r) / R
* ndcg@k = sum(hit_r / log2(r + 1)) / sum_{r <= min(R, k)} 1 / log2(r + 1)
* map@k (average precision) = sum(hit_r * precision@r) / min(R, k)
* coverage@k (global, not per user) = |distinct catalog items in any first-k list|
  / |catalog|
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from recsys._ranking import (
    ap_from_hits,
    hit_matrix,
    ndcg_from_hits,
    precision_from_hits,
    recall_from_hits,
)
from recsys._validation import check_positive_int
from recsys.exceptions import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "coverage_at_k_score",
    "mae_error",
    "map_at_k_score",
    "ndcg_at_k_score",
    "precision_at_k_score",
    "recall_at_k_score",
    "rmse_error",
]

Recommendations = Mapping[Hashable, Sequence[Hashable]]
Relevant = Mapping[Hashable, Collection[Hashable]]


def _errors(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape or t.size == 0:
        msg = (
            "y_true and y_pred must be non-empty and of equal length, got "
            f"{t.size} and {p.size}"
        )
        raise InvalidInputError(msg)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).ravel()
        if w.shape != t.shape or (w < 0).any() or w.sum() <= 0:
            msg = (
                "sample_weight must be non-negative with a positive sum and one "
                f"weight per sample, got {w.size} weight(s) for {t.size} sample(s)"
            )
            raise InvalidInputError(msg)
    return t - p, w


def rmse_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> float:
    """Root mean squared error (lower is better).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted ratings.
    sample_weight : array-like of shape (n_samples,), default=None
        Optional non-negative weights.

    Returns
    -------
    float
    """
    err, w = _errors(y_true, y_pred, sample_weight)
    return float(np.sqrt(np.average(err**2, weights=w)))


def mae_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> float:
    """Mean absolute error (lower is better).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted ratings.
    sample_weight : array-like of shape (n_samples,), default=None
        Optional non-negative weights.

    Returns
    -------
    float
    """
    err, w = _errors(y_true, y_pred, sample_weight)
    return float(np.average(np.abs(err), weights=w))


def precision_at_k_score(
    recommendations: Recommendations, relevant: Relevant, k: int = 10
) -> float:
    """Mean precision@k (see the module docstring for the conventions).

    Parameters
    ----------
    recommendations : mapping user -> ranked sequence of items
    relevant : mapping user -> collection of relevant items
    k : int, default=10

    Returns
    -------
    float
    """
    hits, _ = hit_matrix(recommendations, relevant, k)
    return float(precision_from_hits(hits).mean())


def recall_at_k_score(
    recommendations: Recommendations, relevant: Relevant, k: int = 10
) -> float:
    """Mean recall@k (see the module docstring for the conventions).

    Parameters
    ----------
    recommendations : mapping user -> ranked sequence of items
    relevant : mapping user -> collection of relevant items
    k : int, default=10

    Returns
    -------
    float
    """
    hits, n_rel = hit_matrix(recommendations, relevant, k)
    return float(recall_from_hits(hits, n_rel).mean())


def ndcg_at_k_score(
    recommendations: Recommendations, relevant: Relevant, k: int = 10
) -> float:
    """Mean binary NDCG@k (see the module docstring for the conventions).

    Parameters
    ----------
    recommendations : mapping user -> ranked sequence of items
    relevant : mapping user -> collection of relevant items
    k : int, default=10

    Returns
    -------
    float
    """
    hits, n_rel = hit_matrix(recommendations, relevant, k)
    return float(ndcg_from_hits(hits, n_rel).mean())


def map_at_k_score(
    recommendations: Recommendations, relevant: Relevant, k: int = 10
) -> float:
    """Mean average precision@k (see the module docstring for the conventions).

    Parameters
    ----------
    recommendations : mapping user -> ranked sequence of items
    relevant : mapping user -> collection of relevant items
    k : int, default=10

    Returns
    -------
    float
    """
    hits, n_rel = hit_matrix(recommendations, relevant, k)
    return float(ap_from_hits(hits, n_rel).mean())


def coverage_at_k_score(
    recommendations: Recommendations,
    catalog: Collection[Hashable] | int,
    k: int = 10,
) -> float:
    """Share of the catalog that appears in at least one first-k list.

    Parameters
    ----------
    recommendations : mapping user -> ranked sequence of items
    catalog : collection of items, or int
        The candidate items; an int gives the catalog size, and then every
        recommended item counts as part of the catalog.
    k : int, default=10

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    k = check_positive_int("k", k)
    shown = {item for ranked in recommendations.values() for item in list(ranked)[:k]}
    if isinstance(catalog, int) and not isinstance(catalog, bool):
        size = catalog
        n_covered = len(shown)
    else:
        catalog_set = set(cast("Collection[Hashable]", catalog))
        size = len(catalog_set)
        n_covered = len(shown & catalog_set)
    if size <= 0:
        msg = f"catalog must contain at least one item, got size {size}"
        raise InvalidInputError(msg)
    return min(n_covered / size, 1.0)
