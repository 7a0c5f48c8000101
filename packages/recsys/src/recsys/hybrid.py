"""Hybrid recommender: ratings from one estimator, rankings from another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone

from recsys._base import BaseRecommender
from recsys._validation import validate_interactions
from recsys.blend import BlendRecommender
from recsys.ease import EASE
from recsys.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import ArrayLike, NDArray

    from recsys.results import SimilarItems

__all__ = ["HybridRecommender", "same_configuration"]

#: What every fitted recsys estimator derives from its training pairs alone, the
#: same way whatever the estimator: equal values mean the same users, movies and
#: rated pairs; the mean rating (compared to 1e-9, summation orders differ) checks
#: the ratings, though not every one of them.
_PAIRS_STATE = ("user_ids_", "movie_ids_", "seen_indptr_", "seen_indices_")
_RTOL = 1e-9


def same_configuration(a: Any, b: Any) -> bool:
    """Whether two estimators (or parameter values) are configured identically.

    Estimators: the same class and, recursively, the same ``get_params(deep=False)``
    (estimators inside lists and dicts included); other values compare with ``==``
    and must be of the same type.
    """
    if isinstance(a, BaseEstimator) or isinstance(b, BaseEstimator):
        return type(a) is type(b) and same_configuration(
            a.get_params(deep=False), b.get_params(deep=False)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(
            same_configuration(a[key], b[key]) for key in a
        )
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(same_configuration(x, z) for x, z in zip(a, b, strict=True))
        )
    return type(a) is type(b) and bool(a == b)


class HybridRecommender(BaseRecommender):
    """Serve each question with the estimator that answers it best.

    Rating models (MF, kNN, the blend) predict ratings well but rank poorly under the
    all-items protocol; ranking models (EASE) rank well but their scores are not
    ratings. A hybrid fits both on the same data: ``predict`` and
    ``predict_with_fallback`` come from ``rating_estimator``, ``recommend`` from
    ``ranking_estimator``, and ``similar_items`` from the ranking estimator when it has
    item similarities (else from the rating estimator).

    Parameters
    ----------
    rating_estimator : recsys estimator, default=None
        Answers rating questions; ``None`` means a default :class:`BlendRecommender`.
    ranking_estimator : recsys estimator, default=None
        Answers top-k questions; ``None`` means a default :class:`EASE`.

    Attributes
    ----------
    rating_estimator_, ranking_estimator_ : fitted clones of the two estimators.
    """

    _scores_are_ratings: ClassVar[bool] = False

    def __init__(
        self,
        rating_estimator: BaseRecommender | None = None,
        ranking_estimator: BaseRecommender | None = None,
    ) -> None:
        self.rating_estimator = rating_estimator
        self.ranking_estimator = ranking_estimator

    def _check_params(self) -> None:
        for name in ("rating_estimator", "ranking_estimator"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, BaseRecommender):
                msg = (
                    f"{name} must be a recsys estimator or None, got "
                    f"{type(value).__name__} instead"
                )
                raise InvalidParameterError(msg)

    def fit(
        self,
        X: Any,
        y: ArrayLike,
        *,
        reuse: Mapping[str, BaseRecommender] | None = None,
    ) -> HybridRecommender:
        """Fit both estimators on the same pairs (and the shared fallback state).

        Parameters
        ----------
        X, y : the rated pairs and their ratings (see :meth:`BaseRecommender.fit`).
        reuse : mapping of name to fitted recsys estimator, default=None
            Estimators already fitted on these same ``X`` and ``y`` (a training
            run's other candidates, by name). A component configured exactly as
            one of them (:func:`same_configuration`) is taken as it is instead of
            being fitted again; its users, movies, rated pairs and mean rating must
            equal the hybrid's, or :class:`InvalidParameterError` says which
            differ. ``reused_`` maps each component taken to its name.
        """
        super().fit(X, y)
        rating = self.rating_estimator or BlendRecommender()
        ranking = self.ranking_estimator or EASE()
        fitted = reuse or {}
        self.reused_: dict[str, str] = {}
        self.rating_estimator_ = self._component(
            "rating_estimator", rating, X, y, fitted
        )
        self.ranking_estimator_ = self._component(
            "ranking_estimator", ranking, X, y, fitted
        )
        for part in (self.rating_estimator_, self.ranking_estimator_):
            if not (
                np.array_equal(part.user_ids_, self.user_ids_)
                and np.array_equal(part.movie_ids_, self.movie_ids_)
            ):  # pragma: no cover - every estimator encodes ids the same way
                msg = "hybrid components must index users and movies identically"
                raise InvalidParameterError(msg)
        # Pairs with an unknown user or movie are answered by the fallback biases:
        # the rating estimator's own, so the hybrid rates every pair as it does.
        for name in ("global_mean_", "fallback_user_bias_", "fallback_item_bias_"):
            setattr(self, name, getattr(self.rating_estimator_, name))
        return self

    def _component(
        self,
        name: str,
        estimator: BaseRecommender,
        X: Any,
        y: ArrayLike,
        reuse: Mapping[str, BaseRecommender],
    ) -> BaseRecommender:
        """``estimator`` fitted on ``X, y``: one of ``reuse`` when configured alike."""
        for reused_name, fitted in reuse.items():
            if not same_configuration(fitted, estimator):
                continue
            differ = [
                attr
                for attr in _PAIRS_STATE
                if not np.array_equal(getattr(fitted, attr), getattr(self, attr))
            ]
            if not np.isclose(fitted.global_mean_, self.global_mean_, rtol=_RTOL):
                differ.append("global_mean_")
            if differ:
                msg = (
                    f"reused {name} {type(fitted).__name__} was fitted on other "
                    f"ratings than the hybrid: expected equal {', '.join(differ)}"
                )
                raise InvalidParameterError(msg)
            self.reused_[name] = reused_name
            return fitted
        return clone(estimator).fit(X, y)

    def _fit_model(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
    ) -> None:
        """Nothing of its own: the components are fitted in :meth:`fit`."""

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return self.rating_estimator_._predict_known(users, items)

    def predict_with_fallback(
        self, X: Any
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """The rating estimator's predictions (a ``timestamp`` column reaches it)."""
        self._check_fitted()
        validate_interactions(self, X, reset=False)
        return self.rating_estimator_.predict_with_fallback(X)

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.floating]:
        return self.ranking_estimator_._score_users(users)

    def similar_items(self, movie_id: Any, k: int = 10) -> SimilarItems:
        """Movies similar to ``movie_id``, from the component that knows similarity."""
        self._check_fitted()
        for part in (self.ranking_estimator_, self.rating_estimator_):
            if hasattr(part, "similar_items"):
                result: SimilarItems = part.similar_items(movie_id, k)
                return result
        msg = "neither component of the hybrid computes item similarities"
        raise InvalidParameterError(msg)
