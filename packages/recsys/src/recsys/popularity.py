"""Popularity recommender: the most-rated movies for everyone."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from recsys._base import BaseRecommender
from recsys._validation import check_non_negative_float

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["PopularityRecommender"]


class PopularityRecommender(BaseRecommender):
    """Rank movies by their number of training ratings.

    ``recommend`` returns the most-rated movies the user has not seen (ties broken by
    movie id). ``predict`` returns the movie's damped mean rating
    ``(sum(r) + damping * mu) / (n + damping)``; it ignores the user.

    Parameters
    ----------
    damping : float, default=5.0
        Pseudo-count pulling each movie's mean rating towards the global mean.

    Attributes
    ----------
    item_mean_ : ndarray of shape (n_movies,)
        Damped mean rating of each movie.
    item_popularity_ : ndarray of shape (n_movies,)
        Share of the training ratings that each movie received (the ranking score).
    """

    _scores_are_ratings: ClassVar[bool] = False

    def __init__(self, *, damping: float = 5.0) -> None:
        self.damping = damping

    def _check_params(self) -> None:
        check_non_negative_float("damping", self.damping)

    def _fit_model(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
    ) -> None:
        n_items = len(self.movie_ids_)
        sums = np.bincount(items, ratings, minlength=n_items)
        counts = np.bincount(items, minlength=n_items)
        damping = float(self.damping)
        self.item_mean_ = (sums + damping * self.global_mean_) / (counts + damping)

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return self.item_mean_[items]

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.float64]:
        # Ties are broken by movie position in ``top_k``, as in the fallback list.
        return np.broadcast_to(
            self.item_popularity_, (len(users), len(self.movie_ids_))
        )
