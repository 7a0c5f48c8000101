"""Base class shared by every recommender estimator (private).

A recommender is a scikit-learn regressor over ``(user_id, movie_id)`` pairs. The base
class owns everything that does not depend on the model: input validation, id
encoding, the fallback for unknown users and movies, clipping, top-k selection, the
exclusion of already-seen movies and the layout of the returned frames. Subclasses
implement three hooks on integer positions:

``_fit_model(users, items, ratings)``
    learn the model; ``users``/``items`` are int32 positions into ``user_ids_`` and
    ``movie_ids_``.
``_predict_known(users, items)``
    unclipped predicted ratings for pairs whose user and movie are both known.
``_score_users(users)``
    a dense ``(len(users), n_movies)`` block of ranking scores (higher is better):
    a new array, which ``recommend`` edits in place, or a read-only view, which it
    copies first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numba
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin

from recsys._biases import fit_biases
from recsys._rows import UserRows, row_biases, unique_rows, user_rows
from recsys._validation import (
    check_positive_int,
    encode_ids,
    factorize_ids,
    validate_interactions,
)
from recsys.exceptions import InvalidInputError, NotFittedError
from recsys.results import Recommendations, SimilarItems

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray
    from sklearn.utils import Tags

__all__ = [
    "RATING_MAX",
    "RATING_MIN",
    "BaseRecommender",
    "ItemSimilarityMixin",
    "top_k",
]

RATING_MIN = 0.5
RATING_MAX = 5.0

# Fallback biases: Surprise BaselineOnly's ALS defaults.
_FALLBACK_REG_USER = 15.0
_FALLBACK_REG_ITEM = 10.0
_FALLBACK_EPOCHS = 10
# Upper bound on the number of scores materialized at once by ``recommend``.
_SCORE_BLOCK = 1 << 23


@numba.njit(cache=True, nogil=True)
def _top_k_rows(
    scores: NDArray[np.floating], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    n_rows, n_cols = scores.shape
    out_idx = np.empty((n_rows, k), dtype=np.int64)
    out_val = np.empty((n_rows, k), dtype=np.float64)
    for r in range(n_rows):
        vals = out_val[r]
        idx = out_idx[r]
        size = 0
        for j in range(n_cols):
            v = scores[r, j]
            if size < k:
                pos = size
                size += 1
            elif v > vals[k - 1]:
                pos = k - 1
            else:
                continue
            # Insertion into the sorted prefix; strict comparison keeps ties in
            # column order.
            while pos > 0 and vals[pos - 1] < v:
                vals[pos] = vals[pos - 1]
                idx[pos] = idx[pos - 1]
                pos -= 1
            vals[pos] = v
            idx[pos] = j
    return out_idx, out_val


def top_k(
    scores: NDArray[np.floating], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Return positions and values of the ``k`` largest scores of each row.

    Rows are sorted by decreasing score, ties in column order. ``k`` is capped at the
    number of columns. A single pass per row: O(n_cols * k) worst case, far below
    ``argpartition`` for the small ``k`` of serving.
    """
    return _top_k_rows(scores, min(int(k), scores.shape[1]))


def _canonical_dtype(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself, or a view of it with numpy's shared instance of its dtype.

    Arrays returned by a numba kernel loaded from the on-disk cache carry an
    unpickled copy of their dtype, a different object from numpy's builtin one.
    Pickle memoizes objects by identity, so such a copy is written once more and the
    pickle of an otherwise equal model depends on the state of the numba cache.
    """
    canonical = np.dtype(arr.dtype.str)
    if canonical is arr.dtype or canonical.isbuiltin != 1 or canonical != arr.dtype:
        return arr
    return arr.view(canonical)


def _with_canonical_dtypes(value: Any, memo: dict[int, Any]) -> Any:
    """``value`` with every array in it (and in nested lists, tuples and dicts)
    passed through :func:`_canonical_dtype`; unchanged containers are kept as is.

    ``memo`` maps ``id`` of an array already seen to its replacement, so arrays
    shared between attributes stay shared.
    """
    if isinstance(value, np.ndarray):
        if id(value) not in memo:
            memo[id(value)] = _canonical_dtype(value)
        return memo[id(value)]
    if type(value) in {list, tuple}:
        items = [_with_canonical_dtypes(item, memo) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return type(value)(items) if changed else value
    if type(value) is dict:
        entries = {
            key: _with_canonical_dtypes(item, memo) for key, item in value.items()
        }
        changed = any(entries[key] is not item for key, item in value.items())
        return entries if changed else value
    return value


def _canonicalize_dtypes(estimator: object) -> None:
    """Give every array attribute of ``estimator`` numpy's shared dtype instance.

    Two fits of the same model on the same data then pickle to the same bytes,
    whether their numba kernels were compiled or loaded from the cache.
    """
    memo: dict[int, Any] = {}
    for name, value in list(vars(estimator).items()):
        canonical = _with_canonical_dtypes(value, memo)
        if canonical is not value:
            setattr(estimator, name, canonical)


def _flatten(
    scores: NDArray[np.float64],
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """Valid (finite) entries of ``(n, k)`` blocks, their per-row counts and ranks."""
    valid = np.isfinite(scores)
    counts = valid.sum(axis=1)
    ranks = np.cumsum(valid, axis=1)[valid]
    return valid, counts, ranks


class BaseRecommender(RegressorMixin, BaseEstimator):
    """Common behaviour of the :mod:`recsys` estimators (not used directly).

    Input ``X`` is either a DataFrame with columns ``user_id`` and ``movie_id`` (any
    other column, such as ``timestamp`` or ``rating``, is ignored) or a numeric
    array-like of shape ``(n_samples, n_columns >= 2)`` whose first two columns are
    ``(user_id, movie_id)``; further columns are ignored. ``y`` holds the ratings.

    Fallback: a pair whose user or movie was not seen in ``fit`` is predicted from
    regularized biases (global mean + user bias if the user is known + movie bias if
    the movie is known); an unknown user is recommended the most popular movies.
    Such rows are flagged by :meth:`predict_with_fallback` and in the ``fallback``
    column of :meth:`recommend`.
    """

    #: Whether ``_score_users`` returns predicted ratings (consistent with
    #: ``predict``), which is what a blend component needs.
    _scores_are_ratings: ClassVar[bool] = True
    #: Whether ``fit`` hands the ratings to ``_fit_model_on_rows`` as
    #: :class:`~recsys._rows.UserRows` (no per-rating code arrays: the layout for
    #: tens of millions of ratings) instead of codes to ``_fit_model``.
    _fits_on_user_rows: ClassVar[bool] = False

    # ------------------------------------------------------------------ hooks
    def _fit_model(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
    ) -> None:
        raise NotImplementedError

    def _fit_model_on_rows(self, rows: UserRows) -> None:
        raise NotImplementedError

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        raise NotImplementedError

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.floating]:
        raise NotImplementedError

    def _check_params(self) -> None:
        """Validate hyperparameters; called at the start of ``fit``."""

    # -------------------------------------------------------------- sklearn API
    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        # A recommender cannot fit arbitrary real-valued features: a row is only an
        # id pair, so the R^2 > 0.5 expectation of the generic checks does not apply.
        tags.regressor_tags.poor_score = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "movie_ids_")

    def fit(self, X: Any, y: ArrayLike) -> BaseRecommender:
        """Fit the model on rated ``(user_id, movie_id)`` pairs.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns >= 2)
            The rated pairs (see the class docstring for the accepted layouts).
        y : array-like of shape (n_samples,)
            The ratings.

        Returns
        -------
        self
            The fitted estimator.
        """
        users_raw, items_raw, ratings = validate_interactions(
            self, X, y, reset=True, requires_y=True
        )
        if ratings is None:  # pragma: no cover - requires_y guarantees a vector
            raise InvalidInputError("y is required: expected ratings, got None")
        self._check_params()
        if self._fits_on_user_rows:
            self._fit_user_rows(user_rows(users_raw, items_raw, ratings))
            _canonicalize_dtypes(self)
            return self
        ratings64: NDArray[np.float64] = ratings.astype(np.float64, copy=False)
        users, user_ids = factorize_ids(users_raw)
        items, movie_ids = factorize_ids(items_raw)
        n_users, n_items = len(user_ids), len(movie_ids)
        mu, b_u, b_i = fit_biases(
            users,
            items,
            ratings64,
            n_users,
            n_items,
            reg_user=_FALLBACK_REG_USER,
            reg_item=_FALLBACK_REG_ITEM,
            n_epochs=_FALLBACK_EPOCHS,
        )
        counts = np.bincount(items, minlength=n_items)
        seen = sparse.csr_matrix(
            (np.ones(len(users), dtype=np.int8), (users, items)),
            shape=(n_users, n_items),
        )
        seen.sum_duplicates()
        self._set_fallback(user_ids, movie_ids, (mu, b_u, b_i), counts)
        self.seen_indptr_ = seen.indptr.astype(np.int64)
        self.seen_indices_ = seen.indices.astype(np.int32)
        self._fit_model(users, items, ratings64)
        _canonicalize_dtypes(self)
        return self

    def _set_fallback(
        self,
        user_ids: np.ndarray,
        movie_ids: np.ndarray,
        biases: tuple[float, NDArray[np.float64], NDArray[np.float64]],
        counts: NDArray[np.int64],
    ) -> None:
        """The ids, the fallback biases and the popularity every estimator keeps."""
        self.user_ids_ = user_ids
        self.movie_ids_ = movie_ids
        self.global_mean_, self.fallback_user_bias_, self.fallback_item_bias_ = biases
        self.item_popularity_ = counts / counts.sum()
        # Most popular first; ties broken by movie position, hence deterministic.
        self.popular_items_ = np.lexsort((np.arange(len(counts)), -counts)).astype(
            np.int32
        )

    def _fit_user_rows(self, rows: UserRows) -> None:
        """``fit`` of the estimators that train on :class:`UserRows`.

        No per-rating code array is made: the rows are the training data and, when
        no pair is repeated, ``seen_indices_`` too.
        """
        biases = row_biases(
            rows,
            reg_user=_FALLBACK_REG_USER,
            reg_item=_FALLBACK_REG_ITEM,
            n_epochs=_FALLBACK_EPOCHS,
        )
        counts = np.bincount(rows.indices, minlength=len(rows.movie_ids))
        self._set_fallback(rows.user_ids, rows.movie_ids, biases, counts)
        self.seen_indptr_, self.seen_indices_ = unique_rows(rows.indptr, rows.indices)
        self._fit_model_on_rows(rows)

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            msg = (
                f"This {type(self).__name__} instance is not fitted yet: expected a "
                "call to 'fit' with appropriate arguments before using this method"
            )
            raise NotFittedError(msg)

    @property
    def n_users_(self) -> int:
        """Number of distinct users seen in ``fit``."""
        self._check_fitted()
        return len(self.user_ids_)

    @property
    def n_movies_(self) -> int:
        """Number of distinct movies seen in ``fit``."""
        self._check_fitted()
        return len(self.movie_ids_)

    def _predict_raw(
        self, users_raw: np.ndarray, items_raw: np.ndarray
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Unclipped predictions and fallback flags for raw id arrays."""
        users, user_known = encode_ids(self.user_ids_, users_raw)
        items, item_known = encode_ids(self.movie_ids_, items_raw)
        both = user_known & item_known
        pred = (
            self.global_mean_
            + np.where(user_known, self.fallback_user_bias_[users], 0.0)
            + np.where(item_known, self.fallback_item_bias_[items], 0.0)
        )
        if both.any():
            pred[both] = self._predict_known(users[both], items[both])
        return pred, ~both

    def predict_with_fallback(
        self, X: Any
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Predict ratings and flag the pairs served by the fallback.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns >= 2)
            The ``(user_id, movie_id)`` pairs to predict.

        Returns
        -------
        ratings : ndarray of shape (n_samples,)
            Predicted ratings, clipped to ``[0.5, 5.0]``.
        fallback : ndarray of bool of shape (n_samples,)
            True where the user or the movie was unknown at ``fit`` time, so the
            prediction comes from the bias fallback rather than from the model.
        """
        self._check_fitted()
        users_raw, items_raw, _ = validate_interactions(self, X, reset=False)
        pred, fallback = self._predict_raw(users_raw, items_raw)
        return np.clip(pred, RATING_MIN, RATING_MAX), fallback

    def predict(self, X: Any) -> NDArray[np.float64]:
        """Predict ratings clipped to ``[0.5, 5.0]`` (see ``predict_with_fallback``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns >= 2)
            The ``(user_id, movie_id)`` pairs to predict.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted ratings.
        """
        return self.predict_with_fallback(X)[0]

    def score(
        self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> float:
        """Return the negative RMSE of :meth:`predict` on ``(X, y)`` (higher is better).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns >= 2)
            The ``(user_id, movie_id)`` pairs.
        y : array-like of shape (n_samples,)
            True ratings.
        sample_weight : array-like of shape (n_samples,), default=None
            Optional weights of the squared errors.

        Returns
        -------
        float
            ``-rmse_error(y, self.predict(X))``.
        """
        from recsys.metrics import rmse_error

        return -rmse_error(y, self.predict(X), sample_weight=sample_weight)

    def seen_in_fit(self, X: Any) -> NDArray[np.bool_]:
        """Flag the pairs rated in the training data (never recommended to the user).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns >= 2)
            The ``(user_id, movie_id)`` pairs.

        Returns
        -------
        ndarray of bool of shape (n_samples,)
            True where the user rated the movie in the data given to ``fit``:
            ``recommend(..., exclude_seen=True)`` leaves these movies out.
        """
        self._check_fitted()
        users_raw, items_raw, _ = validate_interactions(self, X, reset=False)
        users, user_known = encode_ids(self.user_ids_, users_raw)
        items, item_known = encode_ids(self.movie_ids_, items_raw)
        both = user_known & item_known
        block, rows = np.unique(users[both], return_inverse=True)
        seen_rows, seen_items = self._seen_block(block)
        n_items = len(self.movie_ids_)
        seen = np.zeros(len(users), dtype=bool)
        seen[both] = np.isin(
            rows.astype(np.int64) * n_items + items[both],
            seen_rows.astype(np.int64) * n_items + seen_items,
        )
        return seen

    # ------------------------------------------------------------ recommending
    def _seen_block(
        self, users: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        """Row offsets (within the block) and movie positions seen by ``users``."""
        starts = self.seen_indptr_[users]
        counts = self.seen_indptr_[users + 1] - starts
        total = int(counts.sum())
        rows = np.repeat(np.arange(len(users)), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.seen_indices_[np.repeat(starts, counts) + offsets]

    def recommend(
        self, user_ids: ArrayLike, k: int = 10, *, exclude_seen: bool = True
    ) -> Recommendations:
        """Recommend the top ``k`` movies for each user.

        Parameters
        ----------
        user_ids : scalar or array-like of shape (n_users,)
            Users to recommend for; duplicates are allowed and answered in order.
        k : int, default=10
            Number of movies per user.
        exclude_seen : bool, default=True
            Whether to exclude the movies the user rated in the training data.

        Returns
        -------
        Recommendations
            One entry per recommendation: ``user_id`` (as given), ``rank``
            (1-based), ``movie_id``, ``score`` (the model's ranking score: the
            unclipped predicted rating for rating models; higher is better) and
            ``fallback`` (True for users unknown at ``fit`` time, who get the most
            popular movies with their share of training ratings as score). Entries
            are ordered by the input order of ``user_ids``, then by rank. A user gets
            fewer than ``k`` entries only when fewer than ``k`` movies remain once
            seen movies are excluded. ``.to_frame()`` gives a DataFrame.
        """
        self._check_fitted()
        k = check_positive_int("k", k)
        ids = np.asarray(user_ids)
        if ids.ndim == 0:
            ids = ids.reshape(1)
        if ids.ndim != 1:
            msg = (
                "user_ids must be a scalar or a 1-D array-like, got an array of "
                f"shape {ids.shape}"
            )
            raise InvalidInputError(msg)
        users, known = encode_ids(self.user_ids_, ids)
        n_items = len(self.movie_ids_)
        k_eff = min(k, n_items)
        idx = np.zeros((len(ids), k_eff), dtype=np.int64)
        scores = np.full((len(ids), k_eff), -np.inf)
        rows_known = np.flatnonzero(known)
        block = max(1, _SCORE_BLOCK // max(n_items, 1))
        for start in range(0, len(rows_known), block):
            rows = rows_known[start : start + block]
            block_users = users[rows]
            block_scores = self._score_users(block_users)
            if not block_scores.flags.writeable:  # e.g. a broadcast popularity row
                block_scores = block_scores.copy()
            if exclude_seen:
                r, c = self._seen_block(block_users)
                block_scores[r, c] = -np.inf
            top_idx, top_val = top_k(block_scores, k_eff)
            idx[rows] = top_idx
            scores[rows] = top_val
        rows_unknown = np.flatnonzero(~known)
        if len(rows_unknown):
            popular = self.popular_items_[:k_eff]
            idx[rows_unknown] = popular
            scores[rows_unknown] = self.item_popularity_[popular]
        valid, counts, ranks = _flatten(scores)
        return Recommendations(
            user_id=np.repeat(ids, counts),
            rank=ranks,
            movie_id=self.movie_ids_[idx[valid]],
            score=scores[valid],
            fallback=np.repeat(~known, counts),
        )


class ItemSimilarityMixin:
    """Adds :meth:`similar_items` to estimators that learn item-item similarities.

    Subclasses implement ``_item_similarities(item) -> ndarray of shape (n_movies,)``.
    """

    movie_ids_: np.ndarray
    item_popularity_: NDArray[np.float64]
    popular_items_: NDArray[np.int32]

    def _item_similarities(self, item: int) -> NDArray[np.floating]:
        raise NotImplementedError

    def similar_items(self, movie_id: Any, k: int = 10) -> SimilarItems:
        """Return the ``k`` movies most similar to ``movie_id``.

        Parameters
        ----------
        movie_id : scalar
            The query movie.
        k : int, default=10
            Number of similar movies.

        Returns
        -------
        SimilarItems
            One entry per rank: ``movie_id`` (the query), ``rank`` (1-based),
            ``similar_movie_id``, ``score`` (the model's similarity, higher is more
            similar) and ``fallback``. The query movie itself is never returned, nor
            are movies the model has no similarity for (so fewer than ``k`` entries
            may come back). An unknown query movie gets the most popular movies with
            their share of training ratings as score and ``fallback=True``.
        """
        self._check_fitted()  # type: ignore[attr-defined]
        k = check_positive_int("k", k)
        if np.ndim(movie_id) != 0:
            msg = (
                "movie_id must be a single id, got an array-like of shape "
                f"{np.shape(movie_id)}"
            )
            raise InvalidInputError(msg)
        pos, known = encode_ids(self.movie_ids_, [movie_id])
        n_items = len(self.movie_ids_)
        if known[0]:
            sims = np.array(self._item_similarities(int(pos[0])), dtype=np.float64)
            sims[pos[0]] = -np.inf
            idx, vals = top_k(sims[None, :], min(k, n_items))
        else:
            idx = self.popular_items_[None, : min(k, n_items)].astype(np.int64)
            vals = self.item_popularity_[idx]
        valid, counts, ranks = _flatten(vals)
        return SimilarItems(
            movie_id=np.repeat(np.asarray([movie_id]), counts),
            rank=ranks,
            similar_movie_id=self.movie_ids_[idx[valid]],
            score=vals[valid],
            fallback=np.repeat(~known, counts),
        )
