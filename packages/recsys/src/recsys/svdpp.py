"""SVD++: biased matrix factorization with implicit feedback (numba)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state

from recsys._base import BaseRecommender, ItemSimilarityMixin
from recsys._validation import check_non_negative_float, check_positive_int
from recsys.mf import FactorScoringMixin, item_norms

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["SVDpp"]


@numba.njit(cache=True, nogil=True, fastmath=True)
def _sgd_svdpp(  # noqa: PLR0917 - numba kernels take positional arrays
    indptr: NDArray[np.int64],
    items: NDArray[np.int32],
    ratings: NDArray[np.float32],
    mu: float,
    user_bias: NDArray[np.float32],
    item_bias: NDArray[np.float32],
    user_factors: NDArray[np.float32],
    item_factors: NDArray[np.float32],
    implicit_factors: NDArray[np.float32],
    n_epochs: int,
    lr_bias: float,
    lr_factor: float,
    lr_implicit: float,
    reg_bias: float,
    reg_factor: float,
    reg_implicit: float,
    lr_decay: float,
    seed: int,
) -> None:
    # Users come in a seeded random order each epoch, each with their ratings
    # shuffled. The implicit part of a user's vector, |N(u)|^-1/2 sum_j y_j over the
    # movies j the user rated, is computed once per visit; its gradient is summed
    # over the visit and applied to every y_j at the end (the usual fast SVD++).
    np.random.seed(seed)
    n_users = user_factors.shape[0]
    n_factors = user_factors.shape[1]
    implicit = np.zeros(n_factors, dtype=np.float32)
    grad = np.zeros(n_factors, dtype=np.float32)
    lr_b = np.float32(lr_bias)
    lr_f = np.float32(lr_factor)
    lr_y = np.float32(lr_implicit)
    reg_b = np.float32(reg_bias)
    reg_f = np.float32(reg_factor)
    reg_y = np.float32(reg_implicit)
    mu32 = np.float32(mu)
    for _ in range(n_epochs):
        for u in np.random.permutation(n_users):
            start = indptr[u]
            n_u = indptr[u + 1] - start
            if n_u == 0:
                continue
            norm = np.float32(1.0 / np.sqrt(n_u))
            for f in range(n_factors):
                implicit[f] = 0.0
                grad[f] = 0.0
            for a in range(start, start + n_u):
                j = items[a]
                for f in range(n_factors):
                    implicit[f] += implicit_factors[j, f]
            for f in range(n_factors):
                implicit[f] *= norm
            for o in np.random.permutation(n_u):
                a = start + o
                i = items[a]
                dot = np.float32(0.0)
                for f in range(n_factors):
                    dot += item_factors[i, f] * (user_factors[u, f] + implicit[f])
                err = ratings[a] - (mu32 + user_bias[u] + item_bias[i] + dot)
                user_bias[u] += lr_b * (err - reg_b * user_bias[u])
                item_bias[i] += lr_b * (err - reg_b * item_bias[i])
                for f in range(n_factors):
                    pu = user_factors[u, f]
                    qi = item_factors[i, f]
                    user_factors[u, f] = pu + lr_f * (err * qi - reg_f * pu)
                    item_factors[i, f] = qi + lr_f * (
                        err * (pu + implicit[f]) - reg_f * qi
                    )
                    grad[f] += err * qi
            for a in range(start, start + n_u):
                j = items[a]
                for f in range(n_factors):
                    yj = implicit_factors[j, f]
                    implicit_factors[j, f] = yj + lr_y * (norm * grad[f] - reg_y * yj)
        lr_b *= np.float32(lr_decay)
        lr_f *= np.float32(lr_decay)
        lr_y *= np.float32(lr_decay)


class SVDpp(FactorScoringMixin, ItemSimilarityMixin, BaseRecommender):
    """SVD++ (Koren 2008), matrix factorization with implicit feedback.

    ``r_ui ~ mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)``.

    Biased matrix factorization whose user vector also sums an implicit-feedback
    vector ``y_j`` for every movie ``j`` in ``N(u)``, the movies the user rated in
    the training data (which movies, not how they were rated). A user with few
    ratings is then described by what they chose to rate as well. Trained by
    stochastic gradient descent, user by user in a seeded random order, compiled
    with numba; a given ``random_state`` always gives the same model on the same
    machine. Only the training pairs are implicit feedback: pairs asked for in
    ``predict`` never are.

    Parameters
    ----------
    n_factors : int, default=64
        Dimension of the user, movie and implicit vectors.
    n_epochs : int, default=30
        Passes over the training ratings.
    lr : float, default=0.005
        Initial learning rate of the user and movie factors.
    lr_bias : float, default=0.005
        Initial learning rate of the biases.
    lr_implicit : float, default=0.001
        Initial learning rate of the implicit vectors (their gradient is summed
        over a user's ratings, hence a smaller rate than ``lr``).
    reg : float, default=0.05
        L2 penalty of the user and movie factors.
    reg_bias : float, default=0.02
        L2 penalty of the biases.
    reg_implicit : float, default=0.05
        L2 penalty of the implicit vectors, applied once per visit of a user.
    lr_decay : float, default=0.95
        Multiplicative decay of the learning rates after each epoch.
    init_std : float, default=0.05
        Standard deviation of the normal initialization of the vectors.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization and the shuffling.

    Attributes
    ----------
    global_mean_ : float
    user_bias_ : ndarray of shape (n_users,)
    item_bias_ : ndarray of shape (n_movies,)
    user_factors_ : ndarray of shape (n_users, n_factors)
        The explicit part ``p_u``.
    item_factors_ : ndarray of shape (n_movies, n_factors)
    implicit_factors_ : ndarray of shape (n_movies, n_factors)
        The implicit vectors ``y_j``.
    user_vectors_ : ndarray of shape (n_users, n_factors)
        ``p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j``, what predictions use.
    user_ids_, movie_ids_ : ndarray
        Sorted distinct user and movie ids seen in ``fit``.

    Notes
    -----
    ``similar_items`` ranks movies by the cosine similarity of their vectors.
    """

    def __init__(
        self,
        *,
        n_factors: int = 64,
        n_epochs: int = 30,
        lr: float = 0.005,
        lr_bias: float = 0.005,
        lr_implicit: float = 0.001,
        reg: float = 0.05,
        reg_bias: float = 0.02,
        reg_implicit: float = 0.05,
        lr_decay: float = 0.95,
        init_std: float = 0.05,
        random_state: Any = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.lr_bias = lr_bias
        self.lr_implicit = lr_implicit
        self.reg = reg
        self.reg_bias = reg_bias
        self.reg_implicit = reg_implicit
        self.lr_decay = lr_decay
        self.init_std = init_std
        self.random_state = random_state

    def _check_params(self) -> None:
        check_positive_int("n_factors", self.n_factors)
        check_positive_int("n_epochs", self.n_epochs)
        check_non_negative_float("lr", self.lr, strictly_positive=True)
        check_non_negative_float("lr_bias", self.lr_bias)
        check_non_negative_float("lr_implicit", self.lr_implicit)
        check_non_negative_float("reg", self.reg)
        check_non_negative_float("reg_bias", self.reg_bias)
        check_non_negative_float("reg_implicit", self.reg_implicit)
        check_non_negative_float("lr_decay", self.lr_decay, strictly_positive=True)
        check_non_negative_float("init_std", self.init_std)

    def _fit_model(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
    ) -> None:
        rng = check_random_state(self.random_state)
        n_users, n_items = len(self.user_ids_), len(self.movie_ids_)
        n_factors = int(self.n_factors)
        init_std = float(self.init_std)
        shape_u, shape_i = (n_users, n_factors), (n_items, n_factors)
        user_factors = rng.normal(0.0, init_std, shape_u).astype(np.float32)
        item_factors = rng.normal(0.0, init_std, shape_i).astype(np.float32)
        implicit_factors = rng.normal(0.0, init_std, shape_i).astype(np.float32)
        user_bias = np.zeros(n_users, dtype=np.float32)
        item_bias = np.zeros(n_items, dtype=np.float32)
        seed = int(rng.randint(0, 2**31 - 1))
        # Ratings grouped by user (CSR); duplicates of a pair are kept as ratings.
        order = np.argsort(users, kind="stable")
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
        by_user_items = np.ascontiguousarray(items[order], dtype=np.int32)
        _sgd_svdpp(
            indptr,
            by_user_items,
            ratings[order].astype(np.float32),
            self.global_mean_,
            user_bias,
            item_bias,
            user_factors,
            item_factors,
            implicit_factors,
            int(self.n_epochs),
            float(self.lr_bias),
            float(self.lr),
            float(self.lr_implicit),
            float(self.reg_bias),
            float(self.reg),
            float(self.reg_implicit),
            float(self.lr_decay),
            seed,
        )
        rated = sparse.csr_array(
            (np.ones(len(order), dtype=np.float32), by_user_items, indptr),
            shape=(n_users, n_items),
        )
        counts = np.diff(indptr).astype(np.float32)
        norms = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
        implicit = (rated @ implicit_factors) * norms[:, None].astype(np.float32)
        self.user_bias_ = user_bias
        self.item_bias_ = item_bias
        self.user_factors_ = user_factors
        self.item_factors_ = item_factors
        self.implicit_factors_ = implicit_factors
        self.user_vectors_ = (user_factors + implicit).astype(np.float32)
        self.item_norms_ = item_norms(item_factors)

    def _user_vectors(self) -> NDArray[np.float32]:
        return self.user_vectors_
