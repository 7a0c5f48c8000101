"""Vectorized kernels of the ranking metrics (private; see :mod:`recsys.metrics`)."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from recsys._validation import check_positive_int
from recsys.exceptions import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "ap_from_hits",
    "hit_matrix",
    "ndcg_from_hits",
    "precision_from_hits",
    "recall_from_hits",
]

Recommendations = Mapping[Hashable, Sequence[Hashable]]
Relevant = Mapping[Hashable, Collection[Hashable]]


def hit_matrix(
    recommendations: Recommendations, relevant: Relevant, k: int
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Return ``(hits, n_relevant)`` for the users with a relevant item.

    ``hits[u, r]`` says whether the item at rank ``r + 1`` of user ``u`` is relevant;
    ``n_relevant[u]`` is the size of the user's relevant set.
    """
    k = check_positive_int("k", k)
    users = [u for u, items in relevant.items() if len(items) > 0]
    if not users:
        msg = (
            "relevant has no user with a relevant item: expected at least one "
            f"non-empty set, got {len(relevant)} user(s) with none"
        )
        raise InvalidInputError(msg)
    hits = np.zeros((len(users), k), dtype=bool)
    n_relevant = np.empty(len(users), dtype=np.int64)
    for row, user in enumerate(users):
        rel = relevant[user]
        rel_set = rel if isinstance(rel, (set, frozenset)) else set(rel)
        n_relevant[row] = len(rel_set)
        ranked = list(recommendations.get(user, ()))[:k]
        if len(set(ranked)) != len(ranked):
            msg = (
                f"recommendations for user {user!r} repeat an item within the first "
                f"{k}: expected distinct items, got {ranked}"
            )
            raise InvalidInputError(msg)
        hits[row, : len(ranked)] = [item in rel_set for item in ranked]
    return hits, n_relevant


def _discounts(k: int) -> NDArray[np.float64]:
    return 1.0 / np.log2(np.arange(2, k + 2))


def precision_from_hits(hits: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Per-user precision@k from a hit matrix of width k."""
    return hits.sum(axis=1) / hits.shape[1]


def recall_from_hits(
    hits: NDArray[np.bool_], n_relevant: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Per-user recall@k."""
    return hits.sum(axis=1) / n_relevant


def ndcg_from_hits(
    hits: NDArray[np.bool_], n_relevant: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Per-user binary NDCG@k."""
    k = hits.shape[1]
    disc = _discounts(k)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_relevant, k)]
    return (hits @ disc) / ideal


def ap_from_hits(
    hits: NDArray[np.bool_], n_relevant: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Per-user average precision@k."""
    k = hits.shape[1]
    prec_at_r = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return (prec_at_r * hits).sum(axis=1) / np.minimum(n_relevant, k)
