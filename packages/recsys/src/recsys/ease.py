"""EASE: a closed-form linear item-item autoencoder for top-N ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import numba
import numpy as np
from scipy import sparse
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from recsys._base import BaseRecommender, ItemSimilarityMixin
from recsys._days import TIMESTAMP_COL, seconds_of
from recsys._validation import check_non_negative_float, check_positive_int
from recsys.exceptions import InvalidInputError, InvalidParameterError, RecsysError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["EASE"]

# Up to this many users per block, scores are summed by a serial kernel.
_SMALL_BATCH = 8
# The Gram matrix is densified this many movies (columns) at a time, so that its
# sparse product (float64, up to n_modelled**2 entries) never exists whole.
_GRAM_BLOCK = 2048
# Pairs of a user's ratings further apart than this many ``session_hours`` add
# nothing to the session term (exp(-12) < 1e-5 of a same-moment pair).
_SESSION_CUTOFF = 12.0
_SECONDS_PER_HOUR = 3600.0


@numba.njit(cache=True, nogil=True)
def _add_session_gram(  # noqa: PLR0917 - numba kernels take positional arrays
    gram: NDArray[np.float32],
    indptr: NDArray[np.int64],
    positions: NDArray[np.int32],
    hours: NDArray[np.float64],
    user_weights: NDArray[np.float64],
    weight: float,
    scale_hours: float,
) -> None:
    """Add ``weight * w_u * exp(-|t_a - t_b| / scale)`` for every pair of a user.

    Each user's ratings (``indptr`` into ``positions`` and ``hours``) are in time
    order, so the pairs within ``_SESSION_CUTOFF`` scales are a sliding window;
    a rating pairs with itself too (exp(0) = 1), as in ``X^T X``.
    """
    horizon = _SESSION_CUTOFF * scale_hours
    for u in range(indptr.shape[0] - 1):
        w = weight * user_weights[u]
        lo = indptr[u]
        for a in range(indptr[u], indptr[u + 1]):
            while hours[a] - hours[lo] > horizon:
                lo += 1
            pa = positions[a]
            for b in range(lo, a):
                k = np.float32(w * np.exp(-(hours[a] - hours[b]) / scale_hours))
                gram[pa, positions[b]] += k
                gram[positions[b], pa] += k
            gram[pa, pa] += np.float32(w)


@numba.njit(cache=True, nogil=True)
def _mirror_upper(a: NDArray[np.float32]) -> None:
    """Copy the upper triangle of a square matrix onto its lower triangle in place."""
    n = a.shape[0]
    for i in range(n):
        for j in range(i):
            a[i, j] = a[j, i]


@numba.njit(cache=True, nogil=True)
def _sum_rows(
    users: NDArray[np.int64],
    indptr: NDArray[np.int64],
    indices: NDArray[np.int32],
    weights: NDArray[np.float32],
) -> NDArray[np.float32]:
    """Row ``r`` sums ``weights[j]`` over the (modelled) items ``j`` of user ``r``."""
    out = np.zeros((users.shape[0], weights.shape[1]), dtype=np.float32)
    for r in range(users.shape[0]):
        u = users[r]
        for a in range(indptr[u], indptr[u + 1]):
            j = indices[a]
            if j >= 0:
                out[r] += weights[j]
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _sum_rows_parallel(
    users: NDArray[np.int64],
    indptr: NDArray[np.int64],
    indices: NDArray[np.int32],
    weights: NDArray[np.float32],
) -> NDArray[np.float32]:
    """Row ``r`` sums ``weights[j]`` over the (modelled) items ``j`` of user ``r``."""
    out = np.zeros((users.shape[0], weights.shape[1]), dtype=np.float32)
    for r in numba.prange(users.shape[0]):
        u = users[r]
        for a in range(indptr[u], indptr[u + 1]):
            j = indices[a]
            if j >= 0:
                out[r] += weights[j]
    return out


class EASE(ItemSimilarityMixin, BaseRecommender):
    """Embarrassingly Shallow Autoencoder (Steck, 2019) on binary interactions.

    Every rated movie is an interaction, whatever the rating. With ``X`` the binary
    user x movie matrix, the item-item weights are the closed-form solution
    ``B = I - P diagMat(1 / diag(P))`` with ``P = (G + Lambda)^-1``, where:

    * ``G = X^T W X`` is the Gram matrix with each user weighted by
      ``W_uu = n_u ** -user_weight_exponent`` (``n_u`` = the user's number of
      ratings), so that a few very active users do not dominate the item-item
      co-occurrences (the idea of inverse user frequency); exponent 0 is plain EASE;
    * with ``session_weight`` ``s > 0``, ``G = (1 - s) X^T W X + s S``: ``S`` counts
      each pair of a user's ratings (weighted by ``W_uu``) by how close in time
      they were, ``exp(-|t_a - t_b| / session_hours)``: movies rated in one
      sitting are closer neighbours than movies rated years apart by the same
      user. ``S`` has ``X^T W X``'s diagonal and is positive semi-definite (a
      Laplace kernel; pairs more than 12 scales apart, under ``1e-5`` each, are
      left out), so ``s = 1`` is still an EASE. ``fit`` then needs ``X``'s
      ``timestamp`` column (Unix seconds);
    * ``Lambda = lambda_reg I + dropout / (1 - dropout) diagMat(diag(G))``, the
      dropout-emphasized penalty of Steck (2020, "Autoencoders that don't overfit
      towards the identity"); ``dropout=0`` is the plain L2 penalty.

    The inverse is taken by a float32 Cholesky factorization. A user's scores are the
    sum of the rows of ``B`` over the movies they rated. The defaults were chosen by
    3-fold validation inside the training part of ml-latest-small: user weighting
    gained about 1% NDCG@10 over the best plain EASE.

    EASE is a ranking model: ``predict`` returns the regularized bias baseline
    ``mu + b_u + b_i`` (the same one as the fallback), so the estimator still fits
    in rating pipelines, and ``recommend``'s scores are EASE scores, not ratings.

    Memory is ``4 * n_modelled**2`` bytes (about 41 MB for the 3,200 movies with at
    least five ratings in 80% of ml-latest-small), and ``fit`` is cubic in the number
    of modelled movies: raise ``min_item_count`` or set ``max_items`` on large
    catalogs (25M MovieLens-shaped ratings rate all 59,047 movies 20 times or more:
    14 GB for the matrix alone; ``max_items=20_000`` is 1.6 GB).

    Parameters
    ----------
    lambda_reg : float, default=35.0
        L2 penalty on the weights (on the scale of the weighted Gram matrix).
    dropout : float, default=0.0
        Emphasis of the diagonal-proportional penalty, in ``[0, 1)``.
    user_weight_exponent : float, default=0.5
        Users are weighted by ``n_u ** -user_weight_exponent`` in the Gram matrix.
    min_item_count : int, default=5
        Movies with fewer training ratings are not modelled: they are never
        recommended and do not contribute to scores. On ml-latest-small, 2, 3 and 5
        validate equally well, and 5 models about half as many movies as 2: an
        eighth of the fit time and a quarter of the memory.
    max_items : int or None, default=None
        At most this many movies are modelled: the most rated of those with
        ``min_item_count`` ratings (ties: the lower id first); None: no cap.
        Memory and fit time are bounded by it whatever the catalog's size.
    session_weight : float, default=0.0
        Share ``s`` of the Gram matrix that counts co-ratings by their closeness
        in time, in ``[0, 1]``; 0 is the time-blind EASE.
    session_hours : float, default=1.0
        Time scale of that closeness: pairs this many hours apart count
        ``exp(-1)`` of a pair rated together.
    blas_threads : int or None, default=1
        BLAS threads for the Cholesky inversion (via threadpoolctl, a dependency of
        scikit-learn); None keeps the BLAS default. One thread is the default
        because on small shared machines (2 busy cores) a multi-threaded OpenBLAS
        spins and was measured 3 to 8 times slower; raise it on a dedicated
        many-core machine.

    Attributes
    ----------
    weights_ : ndarray of shape (n_modelled, n_modelled), float32
        The matrix ``B`` over the modelled movies.
    modelled_items_ : ndarray of int32
        Positions (into ``movie_ids_``) of the modelled movies.
    user_ids_, movie_ids_ : ndarray
        Sorted distinct user and movie ids seen in ``fit``.
    """

    _scores_are_ratings: ClassVar[bool] = False

    def __init__(
        self,
        *,
        lambda_reg: float = 35.0,
        dropout: float = 0.0,
        user_weight_exponent: float = 0.5,
        min_item_count: int = 5,
        max_items: int | None = None,
        session_weight: float = 0.0,
        session_hours: float = 1.0,
        blas_threads: int | None = 1,
    ) -> None:
        self.lambda_reg = lambda_reg
        self.dropout = dropout
        self.user_weight_exponent = user_weight_exponent
        self.min_item_count = min_item_count
        self.max_items = max_items
        self.session_weight = session_weight
        self.session_hours = session_hours
        self.blas_threads = blas_threads

    def _check_params(self) -> None:
        check_non_negative_float("lambda_reg", self.lambda_reg)
        dropout = check_non_negative_float("dropout", self.dropout)
        if dropout >= 1.0:
            msg = f"dropout must be in [0, 1), got {self.dropout!r} instead"
            raise InvalidParameterError(msg)
        check_non_negative_float("user_weight_exponent", self.user_weight_exponent)
        check_positive_int("min_item_count", self.min_item_count)
        if self.max_items is not None:
            check_positive_int("max_items", self.max_items)
        if check_non_negative_float("session_weight", self.session_weight) > 1.0:
            msg = (
                f"session_weight must be in [0, 1], got {self.session_weight!r} instead"
            )
            raise InvalidParameterError(msg)
        if not check_non_negative_float("session_hours", self.session_hours) > 0.0:
            msg = f"session_hours must be > 0, got {self.session_hours!r} instead"
            raise InvalidParameterError(msg)
        if self.blas_threads is not None:
            check_positive_int("blas_threads", self.blas_threads)

    def fit(self, X: Any, y: ArrayLike) -> EASE:
        """Fit on rated pairs (with ``session_weight > 0``, X's ``timestamp`` too)."""
        self._check_params()
        self._fit_seconds = None
        if float(self.session_weight) > 0.0:
            self._fit_seconds = seconds_of(X)
            if self._fit_seconds is None:
                msg = (
                    f"session_weight={self.session_weight!r} needs the ratings' "
                    f"times: expected a DataFrame with a '{TIMESTAMP_COL}' column "
                    f"(Unix seconds), got {type(X).__name__}"
                    + (
                        f" with columns {list(X.columns)}"
                        if hasattr(X, "columns")
                        else ""
                    )
                )
                raise InvalidInputError(msg)
        try:
            super().fit(X, y)
        finally:
            del self._fit_seconds
        return self

    def _fit_model(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
    ) -> None:
        n_users, n_items = len(self.user_ids_), len(self.movie_ids_)
        counts = np.bincount(items, minlength=n_items)
        modelled = _modelled_items(counts, int(self.min_item_count), self.max_items)
        position = np.full(n_items, -1, dtype=np.int32)
        position[modelled] = np.arange(len(modelled), dtype=np.int32)
        keep = position[items] >= 0
        x = sparse.csr_array(
            (
                np.ones(int(keep.sum()), dtype=np.float32),
                (users[keep], position[items[keep]]),
            ),
            shape=(n_users, len(modelled)),
        )
        x.sum_duplicates()
        x.data[:] = 1.0
        # Each user's contribution to the Gram matrix is weighted by n_u ** -exponent.
        activity = np.maximum(np.diff(x.indptr), 1).astype(np.float64)
        user_weights = activity ** -float(self.user_weight_exponent)
        weights = sparse.diags_array(user_weights)
        gram = _dense_gram((weights @ x).T.tocsr(), x.tocsc())
        session = float(self.session_weight)
        if session > 0.0:
            gram *= np.float32(1.0 - session)
            users_kept, positions = users[keep], position[items[keep]]
            # fit() read them from X's timestamp column (it refuses X without one)
            seconds = cast("NDArray[np.float64]", self._fit_seconds)
            hours = seconds[keep] / _SECONDS_PER_HOUR
            order = np.lexsort((hours, users_kept))
            indptr = np.zeros(n_users + 1, dtype=np.int64)
            np.cumsum(np.bincount(users_kept, minlength=n_users), out=indptr[1:])
            _add_session_gram(
                gram,
                indptr,
                positions[order].astype(np.int32),
                hours[order],
                user_weights,
                session,
                float(self.session_hours),
            )
        diag = np.diagonal(gram).copy()
        dropout = float(self.dropout)
        penalty = float(self.lambda_reg) + dropout / (1.0 - dropout) * diag
        gram[np.diag_indices_from(gram)] += penalty.astype(np.float32)
        if self.blas_threads is None:
            self.weights_ = self._solve(gram)
        else:
            with threadpool_limits(limits=int(self.blas_threads), user_api="blas"):
                self.weights_ = self._solve(gram)
        self.modelled_items_ = modelled
        # Position of each movie in ``weights_`` (-1: not modelled), and the same for
        # every training interaction, so that scoring is a plain gather-and-add.
        self.item_position_ = position
        self.seen_positions_ = position[self.seen_indices_]

    @staticmethod
    def _solve(gram: NDArray[np.float32]) -> NDArray[np.float32]:
        if gram.shape[0] == 0:
            return gram
        # gram is symmetric: its transpose is the Fortran-ordered array LAPACK
        # factorizes in place (a C-ordered one would be copied first)
        chol, info = lapack.spotrf(gram.T, lower=0, overwrite_a=1, clean=0)
        if info != 0:
            msg = (
                "EASE Gram matrix is not positive definite: expected lambda_reg > 0 "
                f"or full-rank data, got LAPACK spotrf info={info}"
            )
            raise RecsysError(msg)
        inv, info = lapack.spotri(chol, lower=0, overwrite_c=1)
        if info != 0:  # pragma: no cover - spotrf succeeded, so spotri cannot fail
            msg = f"EASE inversion failed: expected info=0, got spotri info={info}"
            raise RecsysError(msg)
        inv = np.ascontiguousarray(inv, dtype=np.float32)
        _mirror_upper(inv)
        diag = np.diagonal(inv).copy()
        inv /= -diag[None, :]
        inv[np.diag_indices_from(inv)] = 0.0
        return inv

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return (
            self.global_mean_
            + self.fallback_user_bias_[users]
            + self.fallback_item_bias_[items]
        )

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        # Thread start-up costs more than a few users' sums: serial for serving.
        kernel = _sum_rows if len(users) <= _SMALL_BATCH else _sum_rows_parallel
        modelled_scores = kernel(
            users,
            self.seen_indptr_,
            self.seen_positions_,
            self.weights_,
        )
        scores = np.full((len(users), len(self.movie_ids_)), -np.inf, np.float32)
        scores[:, self.modelled_items_] = modelled_scores
        return scores

    def _item_similarities(self, item: int) -> NDArray[np.float32]:
        sims = np.full(len(self.movie_ids_), -np.inf, dtype=np.float32)
        pos = self.item_position_[item]
        if pos >= 0:
            sims[self.modelled_items_] = self.weights_[pos]
        return sims


def _modelled_items(
    counts: NDArray[np.int64], min_count: int, max_items: int | None
) -> NDArray[np.int32]:
    """Positions of the movies with min_count ratings: the max_items most rated."""
    modelled = np.flatnonzero(counts >= min_count)
    if max_items is not None and len(modelled) > max_items:
        order = np.argsort(-counts[modelled], kind="stable")[:max_items]
        modelled = np.sort(modelled[order])
    return modelled.astype(np.int32)


def _dense_gram(left: sparse.csr_array, right: sparse.csc_array) -> NDArray[np.float32]:
    """``left @ right`` as a dense float32 array, a block of columns at a time."""
    n_rows, n_cols = left.shape[0], right.shape[1]
    gram = np.empty((n_rows, n_cols), dtype=np.float32)
    for start in range(0, n_cols, _GRAM_BLOCK):
        stop = min(start + _GRAM_BLOCK, n_cols)
        gram[:, start:stop] = (left @ right[:, start:stop]).toarray()
    return gram
