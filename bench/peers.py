"""The peers of the model bench: Surprise's models and a reference EASE.

Surprise (SVD with its defaults, a tuned SVD, item-based KNNBaseline and, outside
quick mode, SVD++) is the rating peer; a plain-numpy EASE (Steck 2019) is the
ranking peer. Both are trained on the bench's train part and scored on its test
part. The reference EASE's lambda is chosen on a validation split carved from the
train part, as our hyperparameters are (by the tuning pipeline), so that the
comparison is between two tuned models; nothing is tuned on the test part.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from _common import VALIDATION_SEED, K, relevant_items, timed

from recsys import ndcg_at_k_score, random_split, rmse_error

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REFERENCE_EASE_LAMBDAS",
    "ReferenceEASE",
    "evaluate_reference_ease",
    "evaluate_surprise",
    "surprise_specs",
]

#: The reference EASE's lambda candidates, searched on validation.
REFERENCE_EASE_LAMBDAS = (100.0, 250.0, 500.0, 1000.0)


def surprise_specs(quick: bool) -> dict[str, Any]:
    """Factories of the Surprise models by report name (SVD++ unless ``quick``)."""
    from surprise import SVD, KNNBaseline, SVDpp

    specs: dict[str, Any] = {
        "svd_default": lambda: SVD(random_state=0),
        "svd_tuned": lambda: SVD(
            n_factors=100, n_epochs=40, lr_all=0.01, reg_all=0.1, random_state=0
        ),
        "knn_baseline_item_pearson_baseline": lambda: KNNBaseline(
            sim_options={"name": "pearson_baseline", "user_based": False},
            verbose=False,
        ),
    }
    if not quick:
        specs["svdpp_default"] = lambda: SVDpp(random_state=0)
    return specs


def evaluate_surprise(
    name: str, factory: Any, train: pd.DataFrame, test: pd.DataFrame, repeats: int
) -> dict[str, Any]:
    """Fit a Surprise model (``repeats`` times) on train; its RMSE on test."""
    from surprise import Dataset, Reader

    data = Dataset.load_from_df(
        train[["user_id", "movie_id", "rating"]], Reader(rating_scale=(0.5, 5.0))
    )
    trainset = data.build_full_trainset()

    def fit() -> Any:
        algo = factory()
        algo.fit(trainset)
        return algo

    algo, fit_times = timed(fit, repeats)
    est = np.array(
        [
            algo.predict(u, i).est
            for u, i in zip(test["user_id"], test["movie_id"], strict=True)
        ]
    )
    return {
        "name": name,
        "fit_s": min(fit_times),
        "fit_times_s": fit_times,
        "rmse": rmse_error(test["rating"], est),
    }


class ReferenceEASE:
    """Plain-numpy EASE (Steck 2019): float64 Gram matrix and ``np.linalg.inv``."""

    def __init__(self, lambda_reg: float) -> None:
        self.lambda_reg = lambda_reg

    def fit(self, train: pd.DataFrame) -> ReferenceEASE:
        self.users = np.sort(train["user_id"].unique())
        self.items = np.sort(train["movie_id"].unique())
        u = np.searchsorted(self.users, train["user_id"].to_numpy())
        i = np.searchsorted(self.items, train["movie_id"].to_numpy())
        x = np.zeros((len(self.users), len(self.items)))
        x[u, i] = 1.0
        gram = x.T @ x
        gram[np.diag_indices_from(gram)] += self.lambda_reg
        p = np.linalg.inv(gram)
        self.weights = p / -np.diag(p)
        np.fill_diagonal(self.weights, 0.0)
        self.x = x
        return self

    def recommend(self, users: np.ndarray, k: int) -> dict[Any, list[Any]]:
        rows = np.searchsorted(self.users, users)
        known = (rows < len(self.users)) & (
            self.users[np.minimum(rows, len(self.users) - 1)] == users
        )
        scores = self.x[rows[known]] @ self.weights
        scores[self.x[rows[known]] > 0] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return {
            user: list(self.items[t]) for user, t in zip(users[known], top, strict=True)
        }


def evaluate_reference_ease(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """Choose lambda on a validation split carved from train, refit, evaluate."""
    start = time.perf_counter()
    sub, val = random_split(train, test_size=0.2, random_state=VALIDATION_SEED)
    val_users = val["user_id"].unique()
    val_ndcg = {}
    for lam in REFERENCE_EASE_LAMBDAS:
        model = ReferenceEASE(lam).fit(sub)
        val_ndcg[lam] = ndcg_at_k_score(
            model.recommend(val_users, K), relevant_items(val), K
        )
    best = max(REFERENCE_EASE_LAMBDAS, key=lambda lam: (val_ndcg[lam], -lam))
    model, final_times = timed(lambda: ReferenceEASE(best).fit(train))
    total = time.perf_counter() - start
    recs = model.recommend(test["user_id"].unique(), K)
    return {
        "name": "reference_ease_numpy",
        "lambda_candidates": list(REFERENCE_EASE_LAMBDAS),
        "validation_ndcg_at_10": {str(k): v for k, v in val_ndcg.items()},
        "lambda": best,
        "fit_s": final_times[0],
        "fit_with_lambda_search_s": total,
        "ndcg_at_10": ndcg_at_k_score(recs, relevant_items(test), K),
    }
