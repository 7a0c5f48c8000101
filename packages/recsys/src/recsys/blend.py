"""Linear stacking of rating models, with weights learned on a held-out split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state

from recsys._base import RATING_MAX, RATING_MIN, BaseRecommender, ItemSimilarityMixin
from recsys._biases import fit_biases
from recsys._days import day_table, days_of, lookup_days
from recsys._validation import (
    ITEM_COL,
    USER_COL,
    check_non_negative_float,
    check_positive_int,
    validate_interactions,
)
from recsys.baseline import BiasBaseline
from recsys.exceptions import InvalidParameterError
from recsys.knn import ItemKNN
from recsys.metrics import rmse_error
from recsys.mf import MatrixFactorization

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, NDArray

__all__ = ["BlendRecommender"]


# The bias baseline the same-day offsets are residuals of (BiasBaseline's defaults).
_DAY_BASELINE_REG_USER = 15.0
_DAY_BASELINE_REG_ITEM = 10.0
_DAY_BASELINE_EPOCHS = 10
#: Pairs predicted at a time: the design matrix (components' predictions and their
#: support interactions) is that many rows, not one row per pair asked for (25M
#: pairs would be gigabytes beside the model).
_PREDICT_CHUNK = 1 << 20


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

    ``fit`` cross-fits the components: the training ratings are cut into
    ``n_folds`` random folds, every component is fitted on all folds but one and
    predicts that one, so that every training rating gets an out-of-fold
    prediction from each component; a ridge regression of the ratings on those
    predictions learns the weights, its penalty chosen among ``alphas`` by
    leave-one-out error. (``n_folds=1`` holds out a single random
    ``validation_size`` share instead.) The weights of each component vary
    linearly with the log-support of the user and of the movie (feature-weighted
    linear stacking, Sill et al. 2009), so the blend can trust the neighbourhood
    model more for well-rated movies and the factor model more elsewhere. The
    components are then refitted on all the training ratings.

    Time-aware bias: when ``X`` has a ``timestamp`` column (Unix seconds) in
    ``fit``, one more stacking feature is the user's same-day offset, the mean
    residual (against the bias baseline) of the user's other training ratings given
    on the UTC day of the rating, shrunk by ``day_shrinkage`` pseudo-ratings
    (out-of-fold, like the components' predictions). ``predict`` adds that term
    when ``X`` has a ``timestamp`` column and leaves it out otherwise (for a day the
    user rated nothing on, it is 0). Only the training ratings ever feed it.

    Parameters
    ----------
    estimators : list of (name, estimator), default=None
        Rating models to blend (``predict`` must return ratings: not EASE or
        popularity). ``None`` means ``[("bias", BiasBaseline()), ("mf",
        MatrixFactorization()), ("item_knn", ItemKNN())]``.
    n_folds : int, default=5
        Folds of the cross-fitting; 1 means a single held-out share.
    validation_size : float, default=0.1
        Share of the training ratings held out when ``n_folds=1`` (else unused).
    alphas : sequence of float, default=(0.1, 1.0, 10.0, 100.0)
        Candidate ridge penalties of the stacking regression (the intercept is not
        penalized); the one with the lowest leave-one-out error on the
        out-of-fold predictions is used.
    support_features : bool, default=True
        Whether weights depend on user and movie support; False gives a plain
        linear blend.
    day_shrinkage : float or None, default=5.0
        Pseudo-ratings shrinking the same-day offsets towards 0; ``None`` turns
        the time-aware feature off.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and every component whose ``random_state`` is
        None.

    Attributes
    ----------
    estimators_ : list of (name, estimator)
        The components refitted on all the training ratings.
    coef_ : ndarray
        Stacking weights, in the order: predictions, predictions x user support,
        predictions x movie support, user support, movie support.
    intercept_ : float
    alpha_ : float
        The ridge penalty chosen among ``alphas``.
    day_coef_ : float
        Weight of the same-day offset (0.0 when ``fit`` saw no timestamps or
        ``day_shrinkage`` is None).
    day_keys_, day_offsets_ : ndarray
        The (user, day) keys of the training ratings and their shrunk offsets.
    validation_rmse_ : dict of str to float
        RMSE of each component's out-of-fold predictions and of the blend of them
        (in-sample for the stacking weights), for diagnostics.
    """

    def __init__(
        self,
        estimators: Sequence[tuple[str, BaseRecommender]] | None = None,
        *,
        n_folds: int = 5,
        validation_size: float = 0.1,
        alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
        support_features: bool = True,
        day_shrinkage: float | None = 5.0,
        random_state: Any = None,
    ) -> None:
        self.estimators = estimators
        self.n_folds = n_folds
        self.validation_size = validation_size
        self.alphas = alphas
        self.support_features = support_features
        self.day_shrinkage = day_shrinkage
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
        check_positive_int("n_folds", self.n_folds)
        if self.day_shrinkage is not None:
            check_non_negative_float("day_shrinkage", self.day_shrinkage)
        self._alphas()
        self._components()

    def _alphas(self) -> list[float]:
        values = (
            [self.alphas]
            if isinstance(self.alphas, (int, float))
            else list(self.alphas or [])
        )
        if not values:
            msg = (
                "alphas must be a non-empty sequence of ridge penalties >= 0, got "
                f"{self.alphas!r} instead"
            )
            raise InvalidParameterError(msg)
        return [check_non_negative_float("alphas", value) for value in values]

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

    def _folds(self, rng: np.random.RandomState, n: int) -> list[NDArray[np.bool_]]:
        """Held-out masks: ``n_folds`` folds, or one ``validation_size`` share."""
        if n < 2:  # noqa: PLR2004 - a single rating is both fitted and held out
            return [np.ones(n, dtype=bool)]
        perm = rng.permutation(n)
        if int(self.n_folds) == 1:
            n_val = min(max(1, round(float(self.validation_size) * n)), n - 1)
            is_val = np.zeros(n, dtype=bool)
            is_val[perm[:n_val]] = True
            return [is_val]
        fold_of = np.empty(n, dtype=np.int64)
        fold_of[perm] = np.arange(n) % min(int(self.n_folds), n)
        return [fold_of == k for k in range(min(int(self.n_folds), n))]

    def fit(self, X: Any, y: ArrayLike) -> BlendRecommender:
        """Fit the blend (see the class docstring); a ``timestamp`` column is used."""
        self._fit_days = days_of(X)
        try:
            super().fit(X, y)
        finally:
            del self._fit_days
        return self

    def _day_offsets(
        self,
        users: NDArray[np.int32],
        items: NDArray[np.int32],
        ratings: NDArray[np.float64],
        days: NDArray[np.int64],
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Same-day offset table of these ratings, against their own bias baseline."""
        mu, b_u, b_i = fit_biases(
            users,
            items,
            ratings,
            len(self.user_ids_),
            len(self.movie_ids_),
            reg_user=_DAY_BASELINE_REG_USER,
            reg_item=_DAY_BASELINE_REG_ITEM,
            n_epochs=_DAY_BASELINE_EPOCHS,
        )
        residuals = ratings - (mu + b_u[users] + b_i[items])
        return day_table(users, days, residuals, float(self.day_shrinkage or 0.0))

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
        days = self._fit_days if self.day_shrinkage is not None else None
        users_raw = self.user_ids_[users]
        items_raw = self.movie_ids_[items]
        n_users, n_items = len(self.user_ids_), len(self.movie_ids_)
        designs, preds_parts, targets = [], [], []
        for is_val in self._folds(rng, n):
            fit_rows = ~is_val if n > 1 else is_val
            partial = self._fit_components(
                components,
                users_raw[fit_rows],
                items_raw[fit_rows],
                ratings[fit_rows],
                seeds,
            )
            # Support counted on the partial fit, rescaled to the full training size.
            sub_user_counts = np.bincount(users[fit_rows], minlength=n_users)
            sub_item_counts = np.bincount(items[fit_rows], minlength=n_items)
            preds = self._predictions(partial, users_raw[is_val], items_raw[is_val])
            design = self._design(
                preds,
                user_counts=sub_user_counts[users[is_val]],
                item_counts=sub_item_counts[items[is_val]],
                scale=n / max(int(fit_rows.sum()), 1),
            )
            if days is not None:
                keys, offsets = self._day_offsets(
                    users[fit_rows], items[fit_rows], ratings[fit_rows], days[fit_rows]
                )
                same_day = lookup_days(keys, offsets, users[is_val], days[is_val])
                design = np.column_stack([design, same_day])
            designs.append(design)
            preds_parts.append(preds)
            targets.append(ratings[is_val])
            # The fold's models are done with: let them go before the next fit
            # (the final one on every rating), not hold two sets of components.
            del partial
        design, preds = np.vstack(designs), np.vstack(preds_parts)
        y_val = np.hstack(targets)
        self.alpha_ = _choose_alpha(design, y_val, self._alphas())
        coef, self.intercept_ = _ridge(design, y_val, self.alpha_)
        blended = design @ coef + self.intercept_
        if days is not None:
            self.coef_, self.day_coef_ = coef[:-1], float(coef[-1])
            self.day_keys_, self.day_offsets_ = self._day_offsets(
                users, items, ratings, days
            )
        else:
            self.coef_, self.day_coef_ = coef, 0.0
            self.day_keys_ = np.zeros(0, dtype=np.int64)
            self.day_offsets_ = np.zeros(0)
        self.validation_rmse_ = {
            name: rmse_error(y_val, np.clip(preds[:, k], RATING_MIN, RATING_MAX))
            for k, (name, _) in enumerate(components)
        }
        self.validation_rmse_["blend"] = rmse_error(
            y_val, np.clip(blended, RATING_MIN, RATING_MAX)
        )
        self.estimators_ = self._fit_components(
            components, users_raw, items_raw, ratings, seeds
        )
        self.user_counts_ = np.bincount(users, minlength=n_users)
        self.item_counts_ = np.bincount(items, minlength=n_items)

    def predict_with_fallback(
        self, X: Any
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Predict ratings, with the same-day term where ``X`` has timestamps.

        See :meth:`BaseRecommender.predict_with_fallback`; pairs served by the
        fallback get no same-day term.
        """
        self._check_fitted()
        users_raw, items_raw, _ = validate_interactions(self, X, reset=False)
        pred, fallback = self._predict_raw(users_raw, items_raw)
        days = days_of(X)
        if days is not None and self.day_coef_ != 0.0 and (~fallback).any():
            known = ~fallback
            users = np.searchsorted(self.user_ids_, users_raw[known])
            pred[known] += self.day_coef_ * lookup_days(
                self.day_keys_, self.day_offsets_, users, days[known]
            )
        return np.clip(pred, RATING_MIN, RATING_MAX), fallback

    def _predict_known(
        self, users: NDArray[np.int64], items: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        out = np.empty(len(users), dtype=np.float64)
        for start in range(0, len(users), _PREDICT_CHUNK):
            u = users[start : start + _PREDICT_CHUNK]
            i = items[start : start + _PREDICT_CHUNK]
            preds = self._predictions(
                self.estimators_, self.user_ids_[u], self.movie_ids_[i]
            )
            design = self._design(
                preds,
                user_counts=self.user_counts_[u],
                item_counts=self.item_counts_[i],
                scale=1.0,
            )
            out[start : start + len(u)] = design @ self.coef_ + self.intercept_
        return out

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


def _choose_alpha(
    design: NDArray[np.float64], target: NDArray[np.float64], alphas: list[float]
) -> float:
    """The penalty of ``alphas`` with the lowest leave-one-out squared error.

    Closed form (generalized cross-validation on the centred design, as
    ``sklearn.linear_model.RidgeCV`` does); ties go to the larger penalty.
    """
    if len(alphas) == 1:
        return alphas[0]
    xc = design - design.mean(axis=0)
    yc = target - target.mean()
    u, sv, _ = np.linalg.svd(xc, full_matrices=False)
    uty = u.T @ yc
    best, best_err = alphas[0], np.inf
    for alpha in sorted(alphas, reverse=True):
        shrink = sv**2 / (sv**2 + alpha)
        fitted = u @ (shrink * uty)
        leverage = (u**2) @ shrink + 1.0 / len(target)
        err = float(np.mean(((yc - fitted) / (1.0 - leverage)) ** 2))
        if err < best_err:
            best, best_err = alpha, err
    return best


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
