"""The promotion metric gate: names and directions from recsys' vocabulary."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from reelops.promotion.gates import METRIC_GATE, Evidence, PromotionConfig, check_gates


def _gate(cfg: PromotionConfig, value: float, current: float):
    evidence = Evidence(
        version="2",
        run_tags={},
        metrics={cfg.primary_metric: value},
        current_version="1",
        current_metrics={cfg.primary_metric: current},
    )
    return next(g for g in check_gates(evidence, cfg) if g.name == METRIC_GATE)


def test_an_unknown_primary_metric_is_refused_in_one_line() -> None:
    msg = (
        "unknown metric 'auc' (expected one of: rmse, mae, precision@k, recall@k, "
        "ndcg@k, map@k, coverage@k, fit_seconds, predict_seconds)"
    )
    with pytest.raises(ValidationError, match=re.escape(msg)):
        PromotionConfig(model_name="m", primary_metric="auc")


@pytest.mark.parametrize(
    ("metric", "value", "current", "passed"),
    [
        ("ndcg@10", 0.31, 0.30, True),
        ("ndcg@10", 0.29, 0.30, False),
        ("rmse", 0.85, 0.90, True),
        ("rmse", 0.95, 0.90, False),
    ],
)
def test_the_gate_follows_the_metrics_direction(metric, value, current, passed):
    cfg = PromotionConfig(model_name="m", primary_metric=metric, min_improvement=0.01)
    assert _gate(cfg, value, current).passed is passed
