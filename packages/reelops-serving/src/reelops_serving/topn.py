"""Precomputed top-N rankings, filtered on-line (the fast path of ``/recommend``).

When the model loads, :class:`RecommenderEngine` asks the estimator once, through
its generic ``recommend`` API, for every known user's best ``N`` movies (seen ones
excluded) and for the ranking it gives unknown users; :class:`TopNTable` keeps them
as one CSR table of catalog rows and scores, in the model's order. A request then
filters its user's list (genres, movies rated through ``/feedback``) and keeps the
first ``k``. The estimator ranks ties in column order, so its top ``F`` is the first
``F`` of its top ``N``: whenever the filtered list still holds ``k`` movies, they
are exactly the ones the model would return. When it does not (a rare genre, many
exclusions, a large ``k``), :func:`first_k` says so and the engine asks
the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = ["TopNTable", "first_k"]


@dataclass(frozen=True, eq=False)
class TopNTable:
    """Each known user's best ``size`` catalog rows, and the unknown users' ranking.

    Attributes:
        users: The known user ids, sorted.
        indptr: ``len(users) + 2`` offsets: the block of the ``i``-th user is
            ``indptr[i]:indptr[i + 1]``; the last block is the unknown users'.
        rows: Catalog rows, best first within each block.
        scores: The model's scores of ``rows``.
        size: ``N``, the length of each ranking before filtering.
    """

    users: NDArray[np.int64]
    indptr: NDArray[np.int64]
    rows: NDArray[np.int32]
    scores: NDArray[np.float64]
    size: int

    @classmethod
    def from_rankings(
        cls,
        users: NDArray[np.int64],
        rankings: Sequence[tuple[NDArray[np.int64], NDArray[np.float64]]],
        *,
        size: int,
    ) -> TopNTable:
        """Stack ``(rows, scores)`` per user, the unknown users' ranking last."""
        lengths = np.array([len(rows) for rows, _ in rankings], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        rows = [r for r, _ in rankings]
        scores = [s for _, s in rankings]
        return cls(
            users=np.asarray(users, dtype=np.int64),
            indptr=indptr,
            rows=np.concatenate(rows).astype(np.int32) if rows else np.empty(0, "i4"),
            scores=np.concatenate(scores).astype(np.float64) if scores else np.empty(0),
            size=size,
        )

    @property
    def nbytes(self) -> int:
        """Memory held by the table's arrays."""
        return int(
            self.users.nbytes
            + self.indptr.nbytes
            + self.rows.nbytes
            + self.scores.nbytes
        )

    def block(
        self, user_id: int
    ) -> tuple[NDArray[np.int32], NDArray[np.float64], bool]:
        """The ranking of ``user_id`` and whether the user is known.

        Unknown users share one ranking (the model's fallback for them).
        """
        pos = int(np.searchsorted(self.users, user_id))
        known = pos < len(self.users) and int(self.users[pos]) == user_id
        if not known:
            pos = len(self.users)
        start, end = int(self.indptr[pos]), int(self.indptr[pos + 1])
        return self.rows[start:end], self.scores[start:end], known


def first_k(keep: NDArray[np.bool_], k: int) -> NDArray[np.int64] | None:
    """Positions of the first ``k`` True entries of ``keep``, None when fewer.

    None means the table cannot tell what lies beyond its ``N``: the model answers.
    """
    picked = np.flatnonzero(keep)[:k]
    return picked if len(picked) == k else None
