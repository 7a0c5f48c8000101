"""Our models in the model bench: built as training builds them, and evaluated.

The bench measures the estimators the project trains: each one is the candidate of
the same name in the committed ``conf/base/parameters_training.yml`` (every
hyperparameter stated there; the tuning pipeline, ``kedro run --pipeline tuning``,
proposes them on a validation split carved from train), with ``random_state`` set
to the bench's seed wherever the file leaves it unset, as training does. The
``hybrid`` candidate is not benched on its own: its ratings are the blend's and its
top-k EASE's.
"""

from __future__ import annotations

import math
import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import K, latency_summary, relevant_items, report_key, timed
from omegaconf import OmegaConf

import recsys
from recsys import evaluate, make_movielens_like, metric_names, ndcg_at_k_score

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BENCHED",
    "PARAMETERS",
    "RANKING",
    "evaluate_reelops",
    "reelops_models",
    "warm_up",
]

#: The committed hyperparameters of every candidate (read, never written).
PARAMETERS = Path(__file__).resolve().parents[1] / "conf/base/parameters_training.yml"
#: The candidates of ``PARAMETERS`` the bench measures, in report order.
BENCHED = ("popularity", "bias", "mf", "item_knn", "ease", "blend")
#: The ranking metrics of recsys' vocabulary at K (precision@10, ..., coverage@10).
RANKING = metric_names(K, kinds=("ranking",))


def _seeded(model: recsys.BaseRecommender, seed: int) -> recsys.BaseRecommender:
    """``random_state=seed`` wherever it is unset, as ``reelops.fitting`` does."""
    unset = {
        key: seed
        for key, value in model.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return model.set_params(**unset) if unset else model


def reelops_models(
    seed: int, parameters: Path = PARAMETERS
) -> dict[str, recsys.BaseRecommender]:
    """The benched candidates, unfitted, with the hyperparameters of ``parameters``."""
    conf = OmegaConf.to_container(OmegaConf.load(parameters), resolve=True)
    if not isinstance(conf, dict):
        msg = f"{parameters}: expected a mapping of candidates, got {type(conf)}"
        raise SystemExit(msg)
    missing = [name for name in BENCHED if name not in conf]
    if missing:
        msg = f"{parameters}: expected candidates {list(BENCHED)}, missing {missing}"
        raise SystemExit(msg)
    return {
        name: _seeded(
            recsys.make_estimator(
                conf[name]["estimator"]["name"],
                conf[name]["estimator"].get("params", {}),
            ),
            seed,
        )
        for name in BENCHED
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
