"""Regularized user and item biases by alternating least squares (private).

The same computation as Surprise's ``BaselineOnly`` with ``method='als'``: starting
from zero biases, alternately solve ``b_i = sum(r - mu - b_u) / (reg_item + n_i)`` and
``b_u = sum(r - mu - b_i) / (reg_user + n_u)`` in closed form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["fit_biases"]


def fit_biases(
    users: NDArray[np.int32],
    items: NDArray[np.int32],
    ratings: NDArray[np.float64],
    n_users: int,
    n_items: int,
    *,
    reg_user: float,
    reg_item: float,
    n_epochs: int,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Return ``(global_mean, user_bias, item_bias)``."""
    mu = float(ratings.mean())
    resid = ratings - mu
    n_u = np.bincount(users, minlength=n_users).astype(np.float64)
    n_i = np.bincount(items, minlength=n_items).astype(np.float64)
    b_u = np.zeros(n_users)
    b_i = np.zeros(n_items)
    for _ in range(n_epochs):
        b_i = np.bincount(items, resid - b_u[users], minlength=n_items) / (
            reg_item + n_i
        )
        b_u = np.bincount(users, resid - b_i[items], minlength=n_users) / (
            reg_user + n_u
        )
    return mu, b_u, b_i
