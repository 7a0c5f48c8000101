"""Biased matrix factorization trained by stochastic gradient descent (numba)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from sklearn.utils import check_random_state

from recsys._base import BaseRecommender, ItemSimilarityMixin
from recsys._validation import check_non_negative_float, check_positive_int

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["MatrixFactorization", "factor_scores"]

# Up to this many users per block, scores are computed without BLAS.
_SMALL_BATCH = 8
# Movie vectors trained together should fit in (a share of) the CPU cache.
_CACHE_BLOCK_BYTES = 8 << 20


@numba.njit(cache=True, nogil=True, fastmath=True)
def _sgd(  # noqa: PLR0917 - numba kernels take positional arrays
    users: NDArray[np.int32],
    items: NDArray[np.int32],
    ratings: NDArray[np.float32],
    mu: float,
    user_bias: NDArray[np.float32],
    item_bias: NDArray[np.float32],
    user_factors: NDArray[np.float32],
    item_factors: NDArray[np.float32],
    n_epochs: int,
    lr_bias: float,
    lr_factor: float,
    reg_bias: float,
    reg_factor: float,
    lr_decay: float,
    seed: int,
    block_items: int,
) -> None:
    # One seeded order, walked by every epoch over contiguous copies of the data.
    # Movies are split into contiguous blocks whose vectors fit in the CPU cache;
    # blocks come in random order, and within a block users come in random order,
    # each with their ratings of that block together and shuffled. A block's movie
    # vectors and the current user's vector then stay in cache, and reads are
    # sequential: that is what makes tens of millions of ratings fit in minutes
    # (ml-latest-small is a single block, walked user by user like Surprise does).
    np.random.seed(seed)
    n = ratings.shape[0]
    n_users = user_factors.shape[0]
    n_items = item_factors.shape[0]
    n_factors = user_factors.shape[1]
    block_size = max(1, block_items)
    n_blocks = (n_items + block_size - 1) // block_size
    block_rank = np.random.permutation(n_blocks)
    block_of_item = np.empty(n_items, dtype=np.int64)
    for i in range(n_items):
        # Contiguous rows: a block's vectors span few memory pages.
        block_of_item[i] = block_rank[i // block_size]
    user_rank = np.empty(n_users, dtype=np.int64)
    user_perm = np.random.permutation(n_users)
    for rank in range(n_users):
        user_rank[user_perm[rank]] = rank
    # Counting sort by (block, user rank).
    n_keys = n_blocks * n_users
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    for t in range(n):
        starts[block_of_item[items[t]] * n_users + user_rank[users[t]] + 1] += 1
    for key in range(n_keys):
        starts[key + 1] += starts[key]
    fill = starts[:-1].copy()
    order = np.empty(n, dtype=np.int32)
    for t in range(n):
        key = block_of_item[items[t]] * n_users + user_rank[users[t]]
        order[fill[key]] = t
        fill[key] += 1
    for key in range(n_keys):
        np.random.shuffle(order[starts[key] : starts[key + 1]])
    seq_users = np.empty(n, dtype=np.int32)
    seq_items = np.empty(n, dtype=np.int32)
    seq_ratings = np.empty(n, dtype=np.float32)
    for t in range(n):
        seq_users[t] = users[order[t]]
        seq_items[t] = items[order[t]]
        seq_ratings[t] = ratings[order[t]]
    lr_b = np.float32(lr_bias)
    lr_f = np.float32(lr_factor)
    reg_b = np.float32(reg_bias)
    reg_f = np.float32(reg_factor)
    mu32 = np.float32(mu)
    for _ in range(n_epochs):
        for t in range(n):
            u = seq_users[t]
            i = seq_items[t]
            dot = np.float32(0.0)
            for f in range(n_factors):
                dot += user_factors[u, f] * item_factors[i, f]
            err = seq_ratings[t] - (mu32 + user_bias[u] + item_bias[i] + dot)
            user_bias[u] += lr_b * (err - reg_b * user_bias[u])
            item_bias[i] += lr_b * (err - reg_b * item_bias[i])
            for f in range(n_factors):
                pu = user_factors[u, f]
                qi = item_factors[i, f]
                user_factors[u, f] = pu + lr_f * (err * qi - reg_f * pu)
                item_factors[i, f] = qi + lr_f * (err * pu - reg_f * qi)
        lr_b *= np.float32(lr_decay)
        lr_f *= np.float32(lr_decay)


@numba.njit(cache=True, nogil=True)
def _predict_pairs(  # noqa: PLR0917 - numba kernels take positional arrays
    users: NDArray[np.int64],
    items: NDArray[np.int64],
    mu: float,
    user_bias: NDArray[np.float32],
    item_bias: NDArray[np.float32],
    user_factors: NDArray[np.float32],
    item_factors: NDArray[np.float32],
) -> NDArray[np.float64]:
    out = np.empty(users.shape[0], dtype=np.float64)
    for t in range(users.shape[0]):
        u = users[t]
        i = items[t]
        dot = 0.0
        for f in range(user_factors.shape[1]):
            dot += user_factors[u, f] * item_factors[i, f]
        out[t] = mu + user_bias[u] + item_bias[i] + dot
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def _dot_rows(
    left: NDArray[np.float32], right: NDArray[np.float32]
) -> NDArray[np.float32]:
    """``left @ right.T`` without BLAS threads, for the few-user serving path."""
    out = np.empty((left.shape[0], right.shape[0]), dtype=np.float32)
    for r in range(left.shape[0]):
        for c in range(right.shape[0]):
            acc = np.float32(0.0)
            for f in range(left.shape[1]):
                acc += left[r, f] * right[c, f]
            out[r, c] = acc
    return out


def factor_scores(
    left: NDArray[np.float32], right: NDArray[np.float32]
) -> NDArray[np.float32]:
    """``left @ right.T``: a compiled loop for a few rows, BLAS for larger blocks.

    Waking a multi-threaded BLAS for a single matrix-vector product costs more than
    the product itself on a busy machine, so serving-sized requests avoid it.
    """
    if left.shape[0] <= _SMALL_BATCH:
        return _dot_rows(left, right)
    return left @ right.T


class MatrixFactorization(ItemSimilarityMixin, BaseRecommender):
    """Biased matrix factorization, ``r_ui ~ mu + b_u + b_i + p_u . q_i``.

    Trained like Surprise's ``SVD``: stochastic gradient descent on the regularized
    squared error, one pass over the ratings per epoch (in one seeded random order),
    compiled with numba. Training is sequential and seeded, so a given
    ``random_state`` always gives the same model on the same machine. Time and
    memory are linear in the number of ratings (25M ratings fit in minutes).

    The defaults were chosen by 3-fold validation inside the training part of a
    seeded 80/20 split of MovieLens ml-latest-small,
    among configurations that fit no slower than Surprise's default ``SVD``; 256
    factors and 60 epochs validate about 0.3% better at three times the fit time.

    Parameters
    ----------
    n_factors : int, default=128
        Dimension of the user and movie vectors.
    n_epochs : int, default=40
        Passes over the training ratings.
    lr : float, default=0.01
        Initial learning rate of the factors.
    lr_bias : float, default=0.01
        Initial learning rate of the biases.
    reg : float, default=0.08
        L2 penalty of the factors.
    reg_bias : float, default=0.05
        L2 penalty of the biases.
    lr_decay : float, default=1.0
        Multiplicative decay of both learning rates after each epoch.
    init_std : float, default=0.05
        Standard deviation of the normal initialization of the factors.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization and the shuffling.

    Attributes
    ----------
    global_mean_ : float
    user_bias_ : ndarray of shape (n_users,)
    item_bias_ : ndarray of shape (n_movies,)
    user_factors_ : ndarray of shape (n_users, n_factors)
    item_factors_ : ndarray of shape (n_movies, n_factors)
    user_ids_, movie_ids_ : ndarray
        Sorted distinct user and movie ids seen in ``fit``.

    Notes
    -----
    ``similar_items`` ranks movies by the cosine similarity of their vectors.
    """

    def __init__(
        self,
        *,
        n_factors: int = 128,
        n_epochs: int = 40,
        lr: float = 0.01,
        lr_bias: float = 0.01,
        reg: float = 0.08,
        reg_bias: float = 0.05,
        lr_decay: float = 1.0,
        init_std: float = 0.05,
        random_state: Any = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.lr_bias = lr_bias
        self.reg = reg
        self.reg_bias = reg_bias
        self.lr_decay = lr_decay
        self.init_std = init_std
        self.random_state = random_state

    def _check_params(self) -> None:
        check_positive_int("n_factors", self.n_factors)
        check_positive_int("n_epochs", self.n_epochs)
        check_non_negative_float("lr", self.lr, strictly_positive=True)
        check_non_negative_float("lr_bias", self.lr_bias)
        check_non_negative_float("reg", self.reg)
        check_non_negative_float("reg_bias", self.reg_bias)
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
        user_factors = rng.normal(0.0, init_std, (n_users, n_factors)).astype(
            np.float32
        )
        item_factors = rng.normal(0.0, init_std, (n_items, n_factors)).astype(
            np.float32
        )
        user_bias = np.zeros(n_users, dtype=np.float32)
        item_bias = np.zeros(n_items, dtype=np.float32)
        seed = int(rng.randint(0, 2**31 - 1))
        _sgd(
            users,
            items,
            ratings.astype(np.float32),
            self.global_mean_,
            user_bias,
            item_bias,
            user_factors,
            item_factors,
            int(self.n_epochs),
            float(self.lr_bias),
            float(self.lr),
            float(self.reg_bias),
            float(self.reg),
            float(self.lr_decay),
            seed,
            max(1, _CACHE_BLOCK_BYTES // (4 * n_factors)),
        )
        self.user_bias_ = user_bias
        self.item_bias_ = item_bias
        self.user_factors_ = user_factors
        self.item_factors_ = item_factors
        norms = np.linalg.norm(item_factors, axis=1)
        self.item_norms_ = np.where(norms > 0, norms, 1.0).astype(np.float32)

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return _predict_pairs(
            users,
            items,
            self.global_mean_,
            self.user_bias_,
            self.item_bias_,
            self.user_factors_,
            self.item_factors_,
        )

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        scores = factor_scores(self.user_factors_[users], self.item_factors_)
        scores += self.item_bias_
        scores += (self.user_bias_[users] + np.float32(self.global_mean_))[:, None]
        return scores

    def _item_similarities(self, item: int) -> NDArray[np.float32]:
        sims = factor_scores(self.item_factors_[item : item + 1], self.item_factors_)[0]
        return sims / (self.item_norms_ * self.item_norms_[item])
