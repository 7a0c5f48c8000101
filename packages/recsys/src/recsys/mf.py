"""Biased matrix factorization trained by stochastic gradient descent (numba)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

import numba
import numpy as np
from sklearn.utils import check_random_state

from recsys._base import BaseRecommender, ItemSimilarityMixin
from recsys._validation import check_non_negative_float, check_positive_int

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from recsys._rows import UserRows

__all__ = [
    "FactorScoringMixin",
    "MatrixFactorization",
    "factor_scores",
    "item_norms",
]

# Up to this many users per block, scores are computed without BLAS.
_SMALL_BATCH = 8
# Movie vectors trained together should fit in (a share of) the CPU cache.
_CACHE_BLOCK_BYTES = 8 << 20
# Factors are drawn this many numbers at a time.
_INIT_BLOCK = 1 << 20
# Primes above any row length: ``prime % n`` is coprime to ``n``, so stepping by it
# modulo ``n`` visits every position once (the shuffled walk of a user's ratings).
_STRIDE_PRIMES = np.array(
    [
        2147483647,
        2147483629,
        2147483587,
        2147483579,
        2147483563,
        2147483549,
        2147483543,
        2147483497,
    ],
    dtype=np.int64,
)


@numba.njit(cache=True, nogil=True)
def _walk(n: int, key: int) -> tuple[Any, Any]:
    """``(start, stride)`` of a seeded walk visiting ``0..n-1`` once each."""
    h = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    prime = _STRIDE_PRIMES[np.int64(h & np.uint64(7))]
    return np.int64((h >> np.uint64(3)) % np.uint64(n)), prime % n


@numba.njit(cache=True, nogil=True)
def _plan(  # noqa: PLR0917 - numba kernels take positional arrays
    indptr: NDArray[np.int64],
    indices: NDArray[np.int32],
    n_items: int,
    n_jobs: int,
    block_items: int,
    seed: int,
) -> tuple[
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
]:
    """Cut the rating matrix into an ``n_jobs x n_jobs`` grid of user x movie blocks.

    Users are shuffled and split into ``n_jobs`` groups of about equal numbers of
    ratings; movie positions into ``n_jobs`` contiguous ranges of about equal numbers
    of ratings, each cut into cache-sized slices (``block_items`` movies at most)
    walked in a shuffled order. Returns ``(group_users, group_starts, slices,
    range_starts, bounds, segments)``: the users of group ``g`` are
    ``group_users[group_starts[g]:group_starts[g + 1]]`` in their walking order, the
    slices of range ``c`` are ``slices[range_starts[c]:range_starts[c + 1]]``, slice
    ``s`` holds movies ``bounds[s]:bounds[s + 1]``, and user ``u``'s ratings of slice
    ``s`` are positions ``segments[u, s]:segments[u, s + 1]`` of the rows.
    """
    np.random.seed(seed)
    n_users = indptr.shape[0] - 1
    n = indices.shape[0]
    counts = np.zeros(n_items, dtype=np.int64)
    for t in range(n):
        counts[indices[t]] += 1
    # Movie ranges of about n / n_jobs ratings each, then slices within each range.
    cuts = np.zeros(n_jobs + 1, dtype=np.int64)
    cuts[n_jobs] = n_items
    seen = 0
    c = 1
    for i in range(n_items):
        seen += counts[i]
        while c < n_jobs and seen * n_jobs >= c * n:
            cuts[c] = i + 1
            c += 1
    n_slices = np.zeros(n_jobs, dtype=np.int64)
    for c in range(n_jobs):
        width = cuts[c + 1] - cuts[c]
        n_slices[c] = max(1, (width + block_items - 1) // block_items)
    total = n_slices.sum()
    bounds = np.zeros(total + 1, dtype=np.int64)
    range_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    slices = np.empty(total, dtype=np.int64)
    s = 0
    for c in range(n_jobs):
        width = cuts[c + 1] - cuts[c]
        range_starts[c] = s
        for k in range(n_slices[c]):
            bounds[s + k] = cuts[c] + (width * k) // n_slices[c]
            slices[s + k] = s + k
        np.random.shuffle(slices[s : s + n_slices[c]])
        s += n_slices[c]
    range_starts[n_jobs] = total
    bounds[total] = n_items
    # User groups of about n / n_jobs ratings each, users in a shuffled order.
    group_users = np.random.permutation(n_users)
    group_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    group_starts[n_jobs] = n_users
    seen = 0
    g = 1
    for rank in range(n_users):
        u = group_users[rank]
        seen += indptr[u + 1] - indptr[u]
        while g < n_jobs and seen * n_jobs >= g * n:
            group_starts[g] = rank + 1
            g += 1
    # Rows are sorted by movie: a user's ratings of a slice are contiguous.
    segments = np.empty((n_users, total + 1), dtype=np.int64)
    for u in range(n_users):
        p = indptr[u]
        end = indptr[u + 1]
        for s in range(total):
            while p < end and indices[p] < bounds[s]:
                p += 1
            segments[u, s] = p
        segments[u, total] = end
    return group_users, group_starts, slices, range_starts, bounds, segments


@numba.njit(cache=True, nogil=True, fastmath=True)
def _sgd_block(  # noqa: PLR0917 - numba kernels take positional arrays
    users: NDArray[np.int64],
    slices: NDArray[np.int64],
    segments: NDArray[np.int64],
    indices: NDArray[np.int32],
    ratings: NDArray[np.float32],
    mu: float,
    user_bias: NDArray[np.float32],
    item_bias: NDArray[np.float32],
    user_factors: NDArray[np.float32],
    item_factors: NDArray[np.float32],
    lr_bias: float,
    lr_factor: float,
    reg_bias: float,
    reg_factor: float,
    epoch_key: int,
) -> None:
    """One pass over one block: the given users' ratings of the given slices.

    Blocks of one sub-epoch share no user and no movie, so they run on different
    threads with no race, and the result does not depend on timing. Within a slice,
    users come in their shuffled order, each with their ratings of the slice
    together: the slice's movie vectors stay in cache and the user's in registers.
    A user's ratings of a slice (stored by movie) are walked in a seeded order that
    changes every epoch (a start and a stride coprime to their number, from a hash
    of the user, the slice and ``epoch_key``), not by movie position.
    """
    n_factors = user_factors.shape[1]
    lr_b = np.float32(lr_bias)
    lr_f = np.float32(lr_factor)
    reg_b = np.float32(reg_bias)
    reg_f = np.float32(reg_factor)
    mu32 = np.float32(mu)
    for s in slices:
        for u in users:
            lo = segments[u, s]
            hi = segments[u, s + 1]
            if lo == hi:
                continue
            pu = user_factors[u]
            bu = user_bias[u]
            length = hi - lo
            pos, stride = _walk(length, (epoch_key * 1_000_003 + s) * 4_000_037 + u)
            for _ in range(length):
                t = lo + pos
                pos += stride
                if pos >= length:
                    pos -= length
                i = indices[t]
                qi = item_factors[i]
                dot = np.float32(0.0)
                for f in range(n_factors):
                    dot += pu[f] * qi[f]
                err = ratings[t] - (mu32 + bu + item_bias[i] + dot)
                bu += lr_b * (err - reg_b * bu)
                item_bias[i] += lr_b * (err - reg_b * item_bias[i])
                for f in range(n_factors):
                    a = pu[f]
                    b = qi[f]
                    pu[f] = a + lr_f * (err * b - reg_f * a)
                    qi[f] = b + lr_f * (err * a - reg_f * b)
            user_bias[u] = bu


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


def _normal_float32(
    rng: np.random.RandomState, std: float, shape: tuple[int, int]
) -> NDArray[np.float32]:
    """``rng.normal(0, std, shape).astype(float32)`` without the float64 copy.

    Drawn a block of rows at a time: the same numbers as one draw of the whole.
    """
    out = np.empty(shape, dtype=np.float32)
    step = max(1, _INIT_BLOCK // max(1, shape[1]))
    for lo in range(0, shape[0], step):
        hi = min(shape[0], lo + step)
        out[lo:hi] = rng.normal(0.0, std, (hi - lo, shape[1]))
    return out


def _n_jobs(n_jobs: Any) -> int:
    """Threads of the fit: ``None`` is 1; results depend on it (not on the machine)."""
    if n_jobs is None:
        return 1
    return check_positive_int("n_jobs", n_jobs)


def item_norms(item_factors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Euclidean norm of each movie vector (1 where it is 0), for cosines."""
    norms = np.linalg.norm(item_factors, axis=1)
    return np.where(norms > 0, norms, 1.0).astype(np.float32)


class FactorScoringMixin:
    """Ratings, top-k scores and similar movies of a biased factor model.

    ``r_ui = mu + b_u + b_i + p_u . q_i``, where ``p_u`` is a row of
    :meth:`_user_vectors` (the user factors; SVD++ adds its implicit part) and the
    fitted model has ``global_mean_``, ``user_bias_``, ``item_bias_``,
    ``item_factors_`` and ``item_norms_``.
    """

    global_mean_: float
    user_bias_: NDArray[np.float32]
    item_bias_: NDArray[np.float32]
    user_factors_: NDArray[np.float32]
    item_factors_: NDArray[np.float32]
    item_norms_: NDArray[np.float32]

    def _user_vectors(self) -> NDArray[np.float32]:
        return self.user_factors_

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return _predict_pairs(
            users,
            items,
            self.global_mean_,
            self.user_bias_,
            self.item_bias_,
            self._user_vectors(),
            self.item_factors_,
        )

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        scores = factor_scores(self._user_vectors()[users], self.item_factors_)
        scores += self.item_bias_
        scores += (self.user_bias_[users] + np.float32(self.global_mean_))[:, None]
        return scores

    def _item_similarities(self, item: int) -> NDArray[np.float32]:
        sims = factor_scores(self.item_factors_[item : item + 1], self.item_factors_)[0]
        return sims / (self.item_norms_ * self.item_norms_[item])


class MatrixFactorization(FactorScoringMixin, ItemSimilarityMixin, BaseRecommender):
    """Biased matrix factorization, ``r_ui ~ mu + b_u + b_i + p_u . q_i``.

    Trained like Surprise's ``SVD``: stochastic gradient descent on the regularized
    squared error, one pass over the ratings per epoch, compiled with numba, on
    ``n_jobs`` threads in the style of libmf and DSGD: the rating matrix is cut into
    an ``n_jobs x n_jobs`` grid of user x movie blocks of about equal numbers of
    ratings, and in each of the ``n_jobs`` sub-epochs of an epoch the threads take
    blocks that share no user and no movie, so updates never race. The order of the
    updates is seeded and does not depend on timing: a given ``random_state`` and
    ``n_jobs`` always give the same model (another ``n_jobs`` gives another, as
    good, model). Within a block, movies are walked in cache-sized slices (shuffled),
    users in a shuffled order, each with their ratings of the slice together. Time
    and memory are linear in the number of ratings; beyond the data, a fit holds 8
    bytes per rating (int32 movie, float32 rating, grouped by user) and the factors.

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
    n_jobs : int or None, default=None
        Threads of the fit (``None`` is 1). The result depends on it, not on the
        machine: the grid of blocks is ``n_jobs x n_jobs`` whatever the cores.
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

    _fits_on_user_rows: ClassVar[bool] = True

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
        n_jobs: int | None = None,
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
        self.n_jobs = n_jobs
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
        _n_jobs(self.n_jobs)

    def _fit_model_on_rows(self, rows: UserRows) -> None:
        rng = check_random_state(self.random_state)
        n_users, n_items = len(rows.user_ids), len(rows.movie_ids)
        n_factors = int(self.n_factors)
        init_std = float(self.init_std)
        user_factors = _normal_float32(rng, init_std, (n_users, n_factors))
        item_factors = _normal_float32(rng, init_std, (n_items, n_factors))
        user_bias = np.zeros(n_users, dtype=np.float32)
        item_bias = np.zeros(n_items, dtype=np.float32)
        n_jobs = _n_jobs(self.n_jobs)
        plan = _plan(
            rows.indptr,
            rows.indices,
            n_items,
            n_jobs,
            max(1, _CACHE_BLOCK_BYTES // (4 * n_factors)),
            int(rng.randint(0, 2**31 - 1)),
        )
        group_users, group_starts, slices, range_starts, _, segments = plan
        lr_bias, lr = float(self.lr_bias), float(self.lr)

        walk_seed = int(rng.randint(0, 2**20))
        epoch_key = 0

        def run(block: tuple[int, int]) -> None:
            group, movie_range = block
            _sgd_block(
                group_users[group_starts[group] : group_starts[group + 1]],
                slices[range_starts[movie_range] : range_starts[movie_range + 1]],
                segments,
                rows.indices,
                rows.ratings,
                self.global_mean_,
                user_bias,
                item_bias,
                user_factors,
                item_factors,
                lr_bias,
                lr,
                float(self.reg_bias),
                float(self.reg),
                epoch_key,
            )

        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            for epoch in range(int(self.n_epochs)):
                epoch_key = walk_seed + epoch
                # Sub-epoch k: user group g with movie range (g + k) mod n_jobs.
                for k in range(n_jobs):
                    blocks = [(g, (g + k) % n_jobs) for g in range(n_jobs)]
                    list(pool.map(run, blocks))
                lr_bias *= float(np.float32(self.lr_decay))
                lr *= float(np.float32(self.lr_decay))
        self.user_bias_ = user_bias
        self.item_bias_ = item_bias
        self.user_factors_ = user_factors
        self.item_factors_ = item_factors
        self.item_norms_ = item_norms(item_factors)
