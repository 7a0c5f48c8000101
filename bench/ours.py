"""Our models in the model bench: every recsys estimator, and how it is evaluated.

Each estimator has its default hyperparameters (chosen beforehand on a validation
split carved from the train part), with ``random_state`` set to the bench's seed.
"""

from __future__ import annotations

import math
import pickle
import time
from typing import TYPE_CHECKING, Any

from _common import K, latency_summary, relevant_items, report_key, timed

import recsys
from recsys import (
    EASE,
    BiasBaseline,
    BlendRecommender,
    ItemKNN,
    MatrixFactorization,
    PopularityRecommender,
    evaluate,
    make_movielens_like,
    metric_names,
    ndcg_at_k_score,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RANKING",
    "evaluate_reelops",
    "reelops_models",
    "warm_up",
]

#: The ranking metrics of recsys' vocabulary at K (precision@10, ..., coverage@10).
RANKING = metric_names(K, kinds=("ranking",))


def reelops_models(seed: int) -> dict[str, recsys.BaseRecommender]:
    """Every recsys estimator with its default (validation-chosen) hyperparameters."""
    return {
        "popularity": PopularityRecommender(),
        "bias": BiasBaseline(),
        "mf": MatrixFactorization(random_state=seed),
        "item_knn": ItemKNN(),
        "ease": EASE(),
        "blend": BlendRecommender(random_state=seed),
    }


def warm_up() -> float:
    """Compile (or load from cache) every numba kernel; return the time it took."""
    start = time.perf_counter()
    tiny = make_movielens_like(3_000, n_users=40, n_movies=200, random_state=0)
    for model in reelops_models(0).values():
        model.fit(tiny, tiny["rating"])
        model.predict(tiny.head(5))
        model.recommend(tiny["user_id"].iloc[:3], k=3)
        model.recommend(tiny["user_id"].iloc[:40], k=3)
        if hasattr(model, "similar_items"):
            model.similar_items(tiny["movie_id"].iloc[0], k=3)
    return time.perf_counter() - start


def evaluate_reelops(
    name: str,
    model: recsys.BaseRecommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    repeats: int,
) -> dict[str, Any]:
    """Fit (``repeats`` times), then RMSE, ranking metrics, latency and size."""
    _, fit_times = timed(lambda: model.fit(train, train["rating"]), repeats)
    rmse = evaluate(model, train, test, K, metrics=["rmse"])["rmse"]
    ranking, eval_times = timed(
        lambda: evaluate(model, train, test, K, metrics=RANKING)
    )
    # Cross-check of the batched evaluation with the plain mapping-based metric.
    recs = model.recommend(test["user_id"].unique(), K).to_frame()
    by_user = recs.groupby("user_id", sort=False)["movie_id"].apply(list).to_dict()
    ndcg_reference = ndcg_at_k_score(by_user, relevant_items(test), K)
    if not math.isclose(ndcg_reference, ranking[f"ndcg@{K}"], rel_tol=1e-9):
        msg = (
            f"{name}: batched NDCG@{K} {ranking[f'ndcg@{K}']} differs from the "
            f"mapping-based metric {ndcg_reference}"
        )
        raise SystemExit(msg)
    users = model.user_ids_
    single = []
    for user in users:
        start = time.perf_counter()
        model.recommend(user, K)
        single.append(time.perf_counter() - start)
    _, batch_times = timed(lambda: model.recommend(users, K))
    return {
        "name": name,
        "class": type(model).__name__,
        "params": {k: repr(v) for k, v in model.get_params(deep=False).items()},
        "fit_s": min(fit_times),
        "fit_times_s": fit_times,
        "rmse": rmse,
        **{report_key(k): v for k, v in ranking.items()},
        "ndcg_at_10_mapping_check": ndcg_reference,
        "ranking_eval_s": eval_times[0],
        "recommend_single_user": latency_summary(single),
        "recommend_all_users_s": min(batch_times),
        "n_users_recommended": len(users),
        "pickle_mb": len(pickle.dumps(model)) / 1e6,
    }
