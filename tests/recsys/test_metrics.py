from __future__ import annotations

import math
import re

import numpy as np
import pytest

from recsys import (
    InvalidInputError,
    InvalidParameterError,
    coverage_at_k_score,
    mae_error,
    map_at_k_score,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
    rmse_error,
)

# User "a": hits at ranks 2 and 4 out of 3 relevant items; user "b": no hit with
# only two recommendations; user "c" has no relevant item and is ignored; user "d"
# is relevant-only (no recommendations: all misses).
RECS = {"a": [1, 2, 3, 4], "b": [5, 6], "c": [1, 2]}
RELEVANT = {"a": {2, 4, 9}, "b": {7}, "c": set()}


def test_rmse_and_mae_hand_computed():
    y, p = [1.0, 2.0, 3.0], [1.0, 2.0, 5.0]
    assert rmse_error(y, p) == pytest.approx(math.sqrt(4 / 3))
    assert mae_error(y, p) == pytest.approx(2 / 3)
    assert rmse_error(y, p, sample_weight=[1, 1, 2]) == pytest.approx(math.sqrt(2))
    assert mae_error(y, p, sample_weight=[1, 1, 2]) == pytest.approx(1.0)
    assert rmse_error(y, y) == 0.0


def test_rmse_rejects_mismatched_lengths():
    msg = "y_true and y_pred must be non-empty and of equal length, got 2 and 1"
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        rmse_error([1, 2], [1])


def test_precision_at_k_hand_computed():
    # a: 2 hits / 4; b: 0 / 4 (a short list still divides by k).
    assert precision_at_k_score(RECS, RELEVANT, k=4) == pytest.approx((0.5 + 0) / 2)
    assert precision_at_k_score(RECS, RELEVANT, k=2) == pytest.approx((0.5 + 0) / 2)


def test_recall_at_k_hand_computed():
    assert recall_at_k_score(RECS, RELEVANT, k=4) == pytest.approx((2 / 3 + 0) / 2)
    assert recall_at_k_score(RECS, RELEVANT, k=2) == pytest.approx((1 / 3 + 0) / 2)


def test_ndcg_at_k_hand_computed():
    dcg_a = 1 / math.log2(3) + 1 / math.log2(5)
    idcg_a = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(3 relevant, k=4) terms
    assert ndcg_at_k_score(RECS, RELEVANT, k=4) == pytest.approx(dcg_a / idcg_a / 2)
    dcg_a2 = 1 / math.log2(3)
    idcg_a2 = 1 + 1 / math.log2(3)  # min(3, k=2) terms
    assert ndcg_at_k_score(RECS, RELEVANT, k=2) == pytest.approx(dcg_a2 / idcg_a2 / 2)


def test_map_at_k_hand_computed():
    # a: (P@2 + P@4) / min(3, 4) = (1/2 + 2/4) / 3.
    assert map_at_k_score(RECS, RELEVANT, k=4) == pytest.approx((1 / 3 + 0) / 2)
    # k=2: P@2 / min(3, 2).
    assert map_at_k_score(RECS, RELEVANT, k=2) == pytest.approx((0.25 + 0) / 2)


def test_perfect_ranking_scores_one():
    recs = {"u": [3, 1, 2]}
    rel = {"u": {1, 2, 3}}
    for metric in (ndcg_at_k_score, map_at_k_score, recall_at_k_score):
        assert metric(recs, rel, k=3) == pytest.approx(1.0)
    # Fewer relevant items than k: ideal DCG and AP normalize by min(R, k).
    assert ndcg_at_k_score({"u": [1, 5, 6]}, {"u": {1}}, k=3) == pytest.approx(1.0)
    assert map_at_k_score({"u": [1, 5, 6]}, {"u": {1}}, k=3) == pytest.approx(1.0)


def test_user_missing_from_recommendations_counts_as_all_misses():
    rel = {**RELEVANT, "d": {1}}
    assert precision_at_k_score(RECS, rel, k=4) == pytest.approx(0.5 / 3)


def test_coverage_hand_computed():
    # First-4 lists show {1, 2, 3, 4, 5, 6} (c adds nothing new).
    assert coverage_at_k_score(RECS, range(1, 11), k=4) == pytest.approx(0.6)
    assert coverage_at_k_score(RECS, range(1, 11), k=1) == pytest.approx(0.2)
    assert coverage_at_k_score(RECS, 12, k=4) == pytest.approx(0.5)
    # Items outside the catalog do not count.
    assert coverage_at_k_score({"u": [1, 99]}, [1, 2], k=2) == pytest.approx(0.5)


def test_no_relevant_user_is_an_error():
    msg = (
        "relevant has no user with a relevant item: expected at least one non-empty "
        "set, got 1 user(s) with none"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        ndcg_at_k_score({"u": [1]}, {"u": set()}, k=1)


def test_repeated_item_is_an_error():
    msg = (
        "recommendations for user 'u' repeat an item within the first 3: expected "
        "distinct items, got [1, 2, 1]"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        precision_at_k_score({"u": [1, 2, 1]}, {"u": {1}}, k=3)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_must_be_a_positive_int(k):
    msg = f"k must be an integer >= 1, got {k!r} instead"
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        recall_at_k_score(RECS, RELEVANT, k=k)


def test_metrics_accept_numpy_lists():
    recs = {1: np.array([10, 20]), 2: np.array([30])}
    rel = {1: np.array([20]), 2: [30]}
    assert precision_at_k_score(recs, rel, k=2) == pytest.approx(0.5)
