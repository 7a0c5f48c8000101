"""Top-k evaluation of a fitted recommender on held-out ratings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys._ranking import (
    ap_from_hits,
    ndcg_from_hits,
    precision_from_hits,
    recall_from_hits,
)
from recsys._validation import ITEM_COL, USER_COL, check_positive_int
from recsys.exceptions import InvalidInputError

if TYPE_CHECKING:
    from recsys._base import BaseRecommender

__all__ = ["evaluate_ranking"]


def _pair_keys(
    users: np.ndarray, items: np.ndarray, user_codes: pd.Index, item_codes: pd.Index
) -> np.ndarray:
    u = user_codes.get_indexer(pd.Index(users)).astype(np.int64)
    i = item_codes.get_indexer(pd.Index(items)).astype(np.int64)
    return u * (len(item_codes) + 1) + i


def evaluate_ranking(
    model: BaseRecommender, train: pd.DataFrame, test: pd.DataFrame, k: int = 10
) -> dict[str, float]:
    """Evaluate a recommender's top-``k`` lists against held-out interactions.

    Protocol: ``model`` has been fitted on ``train``. Every user of ``test`` is
    evaluated; all of a user's ``test`` movies are relevant, whatever the rating;
    the movies the user rated in ``train`` are excluded from their list
    (``recommend(..., exclude_seen=True)``); every movie rated in ``train`` is a
    candidate. Test users unknown in ``train`` are evaluated on the fallback list.
    Recommendations are computed in one batched call.

    Parameters
    ----------
    model : fitted recsys estimator
    train : DataFrame with columns ``user_id`` and ``movie_id``
        The data the model was fitted on; it defines the catalog for coverage.
    test : DataFrame with columns ``user_id`` and ``movie_id``
        Held-out interactions.
    k : int, default=10

    Returns
    -------
    dict
        ``precision_at_{k}``, ``recall_at_{k}``, ``ndcg_at_{k}``, ``map_at_{k}``
        (means over test users, see :mod:`recsys.metrics` for the definitions),
        ``coverage_at_{k}`` (distinct recommended movies / distinct train movies)
        and ``n_users`` (number of evaluated users).
    """
    k = check_positive_int("k", k)
    for name, frame in (("train", train), ("test", test)):
        missing = [c for c in (USER_COL, ITEM_COL) if c not in frame.columns]
        if missing:
            msg = (
                f"{name} is missing column(s) {missing}: expected columns "
                f"'{USER_COL}' and '{ITEM_COL}', got {list(map(str, frame.columns))}"
            )
            raise InvalidInputError(msg)
    pairs = test[[USER_COL, ITEM_COL]].drop_duplicates()
    if len(pairs) == 0:
        msg = "test has no rows: expected at least one held-out interaction, got 0"
        raise InvalidInputError(msg)
    user_index = pd.Index(pd.unique(pairs[USER_COL].to_numpy()))
    recs = model.recommend(user_index.to_numpy(), k, exclude_seen=True)
    item_index = pd.Index(pd.unique(pairs[ITEM_COL].to_numpy()))
    relevant_keys = _pair_keys(
        pairs[USER_COL].to_numpy(), pairs[ITEM_COL].to_numpy(), user_index, item_index
    )
    rec_keys = _pair_keys(recs.user_id, recs.movie_id, user_index, item_index)
    # Recommended movies absent from test get position -1 and never match.
    is_hit = np.isin(rec_keys, relevant_keys) & (
        item_index.get_indexer(recs.movie_id) >= 0
    )
    row = user_index.get_indexer(recs.user_id)
    hits = np.zeros((len(user_index), k), dtype=bool)
    hits[row, recs.rank - 1] = is_hit
    n_relevant = np.bincount(
        user_index.get_indexer(pairs[USER_COL].to_numpy()), minlength=len(user_index)
    )
    n_catalog = int(train[ITEM_COL].nunique())
    return {
        f"precision_at_{k}": float(precision_from_hits(hits).mean()),
        f"recall_at_{k}": float(recall_from_hits(hits, n_relevant).mean()),
        f"ndcg_at_{k}": float(ndcg_from_hits(hits, n_relevant).mean()),
        f"map_at_{k}": float(ap_from_hits(hits, n_relevant).mean()),
        f"coverage_at_{k}": len(np.unique(recs.movie_id)) / max(n_catalog, 1),
        "n_users": float(len(user_index)),
    }
