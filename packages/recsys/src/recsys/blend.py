"""Linear stacking of rating models, with weights learned on a held-out split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state

from recsys._base import RATING_MAX, RATING_MIN, BaseRecommender, ItemSimilarityMixin
from recsys._validation import ITEM_COL, USER_COL, check_non_negative_float
from recsys.baseline import BiasBaseline
from recsys.exceptions import InvalidParameterError
from recsys.knn import ItemKNN
from recsys.metrics import rmse_error
from recsys.mf import MatrixFactorization

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = ["BlendRecommender"]


def default_blend_estimators() -> list[tuple[str, BaseRecommender]]:
    """The components used when ``estimators=None``."""
    return [
        ("bias", BiasBaseline()),
        ("mf", MatrixFactorization()),
        ("item_knn", ItemKNN()),
    ]


def _support(counts: NDArray[np.int64], scale: float) -> NDArray[np.float64]:
    return np.log1p(counts * scale)


def _design(
    preds: NDArray[np.float64],
    user_support: NDArray[np.float64],
    item_support: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Meta-features: predictions, predictions x support, and support."""
    return np.hstack(
        [
            preds,
            preds * user_support[:, None],
            preds * item_support[:, None],
            user_support[:, None],
            item_support[:, None],
        ]
    )


class BlendRecommender(ItemSimilarityMixin, BaseRecommender):
    """Feature-weighted linear stacking of rating models.

    ``fit`` carves a random ``validation_size`` share out of the training ratings,
    fits every component on the rest, and learns a ridge regression of the held-out
    ratings on the components' predictions. The weights of each component vary
    linearly with the log-support of the user and of the movie (feature-weighted
    linear stacking, Sill et al. 2009), so the blend can trust the neighbourhood
    model more for well-rated movies and the factor model more elsewhere. The
    components are then refitted on all the training ratings.

    Parameters
    ----------
    estimators : list of (name, estimator), default=None
        Rating models to blend (``predict`` must return ratings: not EASE or
        popularity). ``None`` means ``[("bias", BiasBaseline()), ("mf",
        MatrixFactorization()), ("item_knn", ItemKNN())]``.
    validation_size : float, default=0.1
        Share of the training ratings held out to learn the weights.
    alpha : float, default=1.0
        Ridge penalty of the stacking regression (the intercept is not penalized).
    support_features : bool, default=True
        Whether weights depend on user and movie support; False gives a plain
        linear blend.
    random_state : int, RandomState instance or None, default=None
        Seeds the held-out split and every component whose ``random_state`` is
        None.

    Attributes
    ----------
    estimators_ : list of (name, estimator)
        The components refitted on all the training ratings.
    coef_ : ndarray
        Stacking weights, in the order: predictions, predictions x user support,
        predictions x movie support, user support, movie support.
    intercept_ : float
    validation_rmse_ : dict of str to float
        RMSE of each component and of the blend on the held-out share (before
        refitting), for diagnostics.
    """

    def __init__(
        self,
        estimators: Sequence[tuple[str, BaseRecommender]] | None = None,
        *,
        validation_size: float = 0.1,
        alpha: float = 1.0,
        support_features: bool = True,
        random_state: Any = None,
    ) -> None:
        self.estimators = estimators
        self.validation_size = validation_size
        self.alpha = alpha
        self.support_features = support_features
        self.random_state = random_state

    def _components(self) -> list[tuple[str, BaseRecommender]]:
        specs = (
            default_blend_estimators() if self.estimators is None else self.estimators
        )
        components = list(specs)
        names = [name for name, _ in components]
        if not components or len(set(names)) != len(names):
            msg = (
                "estimators must be a non-empty list of (name, estimator) with "
                f"distinct names, got names {names}"
            )
            raise InvalidParameterError(msg)
        for name, est in components:
            if not isinstance(est, BaseRecommender) or not est._scores_are_ratings:
                msg = (
                    f"blend component '{name}' must be a recsys rating model "
                    f"(bias, mf, item_knn, ...), got {type(est).__name__}"
                )
                raise InvalidParameterError(msg)
        return components

    def _check_params(self) -> None:
        size = check_non_negative_float("validation_size", self.validation_size)
        if not 0.0 < size < 1.0:
            msg = (
                f"validation_size must be in (0, 1), got {self.validation_size!r} "
                "instead"
            )
            raise InvalidParameterError(msg)
        check_non_negative_float("alpha", self.alpha)
        self._components()

    def _fit_components(
        self,
        components: list[tuple[str, BaseRecommender]],
        users_raw: np.ndarray,
        items_raw: np.ndarray,
        ratings: NDArray[np.float64],
        seeds: list[int],
    ) -> list[tuple[str, BaseRecommender]]:
        fitted = []
        frame = pd.DataFrame({USER_COL: users_raw, ITEM_COL: items_raw})
        for (name, est), seed in zip(components, seeds, strict=True):
            model = clone(est)
            params = model.get_params(deep=False)
            if "random_state" in params and params["random_state"] is None:
                model.set_params(random_state=seed)
            fitted.append((name, model.fit(frame, ratings)))
        return fitted

    @staticmethod
    def _predictions(
        models: list[tuple[str, BaseRecommender]],
        users_raw: np.ndarray,
        items_raw: np.ndarray,
    ) -> NDArray[np.float64]:
        """Unclipped predictions of every component, one column each."""
        return np.column_stack(
            [model._predict_raw(users_raw, items_raw)[0] for _, model in models]
        )

    def _design(
        self,
        preds: NDArray[np.float64],
        *,
        user_counts: NDArray[np.int64],
        item_counts: NDArray[np.int64],
        scale: float,
    ) -> NDArray[np.float64]:
        if not self.support_features:
            return preds
        return _design(
            preds, _support(user_counts, scale), _support(item_counts, scale)
        )

    def _fit_model(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
    ) -> None:
        rng = check_random_state(self.random_state)
        components = self._components()
        seeds = [int(s) for s in rng.randint(0, 2**31 - 1, size=len(components))]
        n = len(ratings)
        n_val = max(1, round(float(self.validation_size) * n))
        is_val = np.zeros(n, dtype=bool)
        is_val[rng.permutation(n)[: min(n_val, max(n - 1, 1))]] = True
        # A single rating is both fitted and held out (degenerate but defined).
        fit_rows = ~is_val if n > 1 else is_val
        users_raw = self.user_ids_[users]
        items_raw = self.movie_ids_[items]
        partial = self._fit_components(
            components,
            users_raw[fit_rows],
            items_raw[fit_rows],
            ratings[fit_rows],
            seeds,
        )
        # Support counted on the partial fit, rescaled to the full training size.
        sub_user_counts = np.bincount(users[fit_rows], minlength=len(self.user_ids_))
        sub_item_counts = np.bincount(items[fit_rows], minlength=len(self.movie_ids_))
        preds = self._predictions(partial, users_raw[is_val], items_raw[is_val])
        design = self._design(
            preds,
            user_counts=sub_user_counts[users[is_val]],
            item_counts=sub_item_counts[items[is_val]],
            scale=n / max(int(fit_rows.sum()), 1),
        )
        y_val = ratings[is_val]
        self.coef_, self.intercept_ = _ridge(design, y_val, float(self.alpha))
        blended = design @ self.coef_ + self.intercept_
        self.validation_rmse_ = {
            name: rmse_error(y_val, np.clip(preds[:, k], RATING_MIN, RATING_MAX))
            for k, (name, _) in enumerate(partial)
        }
        self.validation_rmse_["blend"] = rmse_error(
            y_val, np.clip(blended, RATING_MIN, RATING_MAX)
        )
        self.estimators_ = self._fit_components(
            components, users_raw, items_raw, ratings, seeds
        )
        self.user_counts_ = np.bincount(users, minlength=len(self.user_ids_))
        self.item_counts_ = np.bincount(items, minlength=len(self.movie_ids_))

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        preds = self._predictions(
            self.estimators_, self.user_ids_[users], self.movie_ids_[items]
        )
        design = self._design(
            preds,
            user_counts=self.user_counts_[users],
            item_counts=self.item_counts_[items],
            scale=1.0,
        )
        return design @ self.coef_ + self.intercept_

    def _score_users(self, users: NDArray[np.int64]) -> NDArray[np.float64]:
        m = len(self.estimators_)
        coef = self.coef_
        n_items = len(self.movie_ids_)
        if self.support_features:
            a_u = _support(self.user_counts_[users], 1.0)[:, None]
            a_i = _support(self.item_counts_, 1.0)[None, :]
            scores = np.full((len(users), n_items), self.intercept_)
            scores += coef[3 * m] * a_u + coef[3 * m + 1] * a_i
            for k, (_, model) in enumerate(self.estimators_):
                weight = coef[k] + coef[m + k] * a_u + coef[2 * m + k] * a_i
                scores += weight * model._score_users(users)
            return scores
        scores = np.full((len(users), n_items), self.intercept_)
        for k, (_, model) in enumerate(self.estimators_):
            scores += coef[k] * model._score_users(users)
        return scores

    def _item_similarities(self, item: int) -> NDArray[np.floating]:
        for _, model in self.estimators_:
            if isinstance(model, ItemSimilarityMixin):
                return model._item_similarities(item)
        return np.full(len(self.movie_ids_), -np.inf)


def _ridge(
    design: NDArray[np.float64], target: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], float]:
    """Ridge regression with an unpenalized intercept, solved in closed form."""
    x_mean = design.mean(axis=0)
    y_mean = float(target.mean())
    xc = design - x_mean
    gram = xc.T @ xc + alpha * np.eye(design.shape[1])
    coef = np.linalg.solve(gram, xc.T @ (target - y_mean))
    return coef, y_mean - float(x_mean @ coef)
