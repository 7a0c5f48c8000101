"""Bias baseline: global mean plus regularized user and movie biases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from recsys._base import BaseRecommender
from recsys._biases import fit_biases
from recsys._validation import check_non_negative_float, check_positive_int

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["BiasBaseline"]


class BiasBaseline(BaseRecommender):
    """Predict ``mu + b_u + b_i`` with biases fitted by alternating least squares.

    Equivalent to Surprise's ``BaselineOnly`` with ``method='als'``: each epoch solves
    the movie biases then the user biases in closed form, shrunk towards zero by
    ``reg_item`` and ``reg_user`` (pseudo-counts).

    Parameters
    ----------
    reg_user : float, default=15.0
        Shrinkage of the user biases.
    reg_item : float, default=10.0
        Shrinkage of the movie biases.
    n_epochs : int, default=10
        Number of alternating updates.

    Attributes
    ----------
    global_mean_ : float
        Mean training rating.
    user_bias_ : ndarray of shape (n_users,)
    item_bias_ : ndarray of shape (n_movies,)
    user_ids_, movie_ids_ : ndarray
        Sorted distinct user and movie ids seen in ``fit``.

    Notes
    -----
    ``recommend`` ranks by ``b_i`` (plus the user's constant ``mu + b_u``): every
    known user gets the same list minus the movies they have seen.
    """

    def __init__(
        self, *, reg_user: float = 15.0, reg_item: float = 10.0, n_epochs: int = 10
    ) -> None:
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.n_epochs = n_epochs

    def _check_params(self) -> None:
        check_non_negative_float("reg_user", self.reg_user)
        check_non_negative_float("reg_item", self.reg_item)
        check_positive_int("n_epochs", self.n_epochs)

    def _fit_model(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
    ) -> None:
        _, self.user_bias_, self.item_bias_ = fit_biases(
            users,
            items,
            ratings,
            len(self.user_ids_),
            len(self.movie_ids_),
            reg_user=float(self.reg_user),
            reg_item=float(self.reg_item),
            n_epochs=int(self.n_epochs),
        )
        # The model's own biases are also its fallback for half-known pairs.
        self.fallback_user_bias_ = self.user_bias_
        self.fallback_item_bias_ = self.item_bias_

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return self.global_mean_ + self.user_bias_[users] + self.item_bias_[items]

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.float64]:
        return (self.global_mean_ + self.user_bias_[users])[:, None] + self.item_bias_
