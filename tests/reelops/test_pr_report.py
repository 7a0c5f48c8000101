"""The PR report: metrics and their directions come from recsys' vocabulary."""

from __future__ import annotations

from reelops.pr_report import render_report

METRICS = {
    "rmse": 0.9,
    "mae": 0.7,
    "precision@10": 0.2,
    "recall@10": 0.1,
    "ndcg@10": 0.3,
    "map@10": 0.15,
    "coverage@10": 0.4,
    "fit_seconds": 1.0,
}
COMPARISON = {
    "champion": "mf",
    "primary_metric": "ndcg@10",
    "registered": True,
    "candidates": {"mf": METRICS},
    "split": {"strategy": "hash", "seed": 42, "n_train": 800, "n_test": 200},
}


def test_every_vocabulary_metric_has_a_row_in_report_order() -> None:
    text = render_report(COMPARISON, None, "none")
    rows = [line.split(" | ")[0] for line in text.splitlines() if line[:2] == "| "]
    assert rows[1:8] == [
        "| rmse",
        "| mae",
        "| precision@10",
        "| recall@10",
        "| ndcg@10",
        "| map@10",
        "| coverage@10",
    ]


def test_better_and_worse_follow_each_metrics_direction() -> None:
    # GIVEN a reference with a higher rmse (worse) and a higher ndcg (better)
    reference = {**METRICS, "rmse": 1.0, "ndcg@10": 0.4}
    # WHEN rendering
    text = render_report(COMPARISON, reference, "ref")
    # THEN the lower rmse is better, the lower ndcg worse
    assert "| rmse | 0.9000 (-0.1000) ✅ |" in text
    assert "| ndcg@10 | 0.3000 (-0.1000) ⚠️ |" in text
    assert "| mae | 0.7000 (+0.0000) |" in text
