"""Monitoring-report stage: the retrain decision rendered for people.

A self-contained HTML report (:func:`report_monitoring`) and PNG plots
(:func:`plot_monitoring`) of the decision :func:`~reelops.nodes.monitoring.
decide_retrain` wrote; both are saved and logged to MLflow by catalog datasets.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from reelops._pydantic import as_config
from reelops._types import Figure
from reelops_monitoring import MonitoringConfig, ProfileView, summarize_view

__all__ = ["plot_monitoring", "report_monitoring"]


def _summary_table(
    reference: ProfileView, window: ProfileView, columns: Collection[str]
) -> pd.DataFrame:
    stats = ["count", "null_share", "mean", "stddev", "min", "median", "max"]
    ref, win = summarize_view(reference), summarize_view(window)
    rows = {}
    for column in columns:
        for label, table in (("reference", ref), ("window", win)):
            if column in table.index:
                rows[(column, label)] = table.loc[column, stats]
    return pd.DataFrame(rows).T


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(float_format=lambda v: f"{v:.4g}", na_rep="-", border=0)


def report_monitoring(
    decision: dict[str, Any],
    reference_profile: ProfileView,
    window_profile: ProfileView,
    reference_prediction_profile: ProfileView,
    window_prediction_profile: ProfileView,
) -> str:
    """A self-contained HTML report of the decision (plots are separate PNGs)."""
    esc = html.escape
    verdict = "RETRAIN" if decision["retrain"] else decision["status"].upper()
    items = (
        "".join(f"<li>{esc(r)}</li>" for r in decision["reasons"]) or "<li>none</li>"
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in decision["notes"]) or "<li>none</li>"
    drift = decision["scores"].get("drift", {}).get("columns", {})
    drift_table = _html_table(pd.DataFrame(drift).T) if drift else "<p>not assessed</p>"
    quality = decision["scores"].get("quality", {})
    quality_table = (
        _html_table(pd.DataFrame(quality).T) if quality else "<p>not assessed</p>"
    )
    perf = decision["performance"]
    perf_frame = pd.DataFrame(
        {"training (holdout)": perf["training"] or {}, "window": perf["window"] or {}}
    )
    feature_table = _summary_table(
        reference_profile, window_profile, ["rating", "user_ratings", "new_user"]
    )
    prediction_table = _summary_table(
        reference_prediction_profile, window_prediction_profile, ["prediction"]
    )
    serving = decision["serving"]
    serving_html = (
        _html_table(pd.json_normalize(serving).T.rename(columns={0: "value"}))
        if serving.get("available")
        else f"<p>{esc(serving.get('reason', 'no serving profiles'))}</p>"
    )
    model = decision["model"]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>reelops monitoring</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}</style>
</head><body>
<h1>Monitoring: {esc(verdict)}</h1>
<p>Window {esc(decision["window"]["start"])} to {esc(decision["window"]["end"])}
({decision["window"]["n_rows"]} feedback rows). Deployed model:
{esc(str(model.get("model_name")))} v{esc(str(model.get("version")))}
(@{esc(str(model.get("alias")))}, {esc(str(model.get("estimator")))}), trained on
data sha256 {esc(str(decision["data_sha256"]))}.</p>
<h2>Reasons</h2><ul>{items}</ul>
<h2>Notes</h2><ul>{notes}</ul>
<h2>Drift</h2>{drift_table}
<h2>Data quality</h2>{quality_table}
<h2>Performance ({perf["n_feedback"]} rated rows)</h2>
{_html_table(perf_frame) if not perf_frame.empty else "<p>not assessed</p>"}
<h2>Features: reference vs window</h2>{_html_table(feature_table)}
<h2>Predictions: reference vs window (informational)</h2>
{_html_table(prediction_table)}
<h2>Serving</h2>{serving_html}
<p>Plots: drift_scores.png, performance.png, latency.png (same folder).</p>
</body></html>
"""


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _infinite(column: Mapping[str, Any]) -> bool:
    return column["score"] is None and column["category"] == "DRIFT"


def _bar_height(column: Mapping[str, Any], drift_threshold: float) -> float:
    if _infinite(column):
        return 1.5 * drift_threshold
    return float(column["score"] or 0.0)


def plot_monitoring(
    decision: dict[str, Any], monitoring: MonitoringConfig
) -> dict[str, Figure]:
    """PNG plots: drift scores vs thresholds, performance vs training, latency."""
    config = as_config(MonitoringConfig, monitoring, "parameters 'monitoring'")
    figs: dict[str, Figure] = {}
    fig, ax = _figure("Drift score per column (bars) and thresholds")
    columns = decision["scores"].get("drift", {}).get("columns", {})
    if columns:
        names = list(columns)
        colours = {"DRIFT": "#c0392b", "POSSIBLE_DRIFT": "#e1812c"}
        bars = ax.bar(
            names,
            [_bar_height(columns[n], config.drift.columns[n].drift) for n in names],
            color=[colours.get(columns[n]["category"], "#3b75af") for n in names],
        )
        # A score JSON holds as null in DRIFT is infinite (a category the
        # reference never had): drawn past the threshold and labelled.
        ax.bar_label(
            bars,
            labels=["inf" if _infinite(columns[n]) else "" for n in names],
        )
        for i, name in enumerate(names):
            spec = config.drift.columns[name]
            for level, style, label in (
                (spec.drift, "--", "DRIFT from"),
                (spec.possible_drift, ":", "POSSIBLE_DRIFT from"),
            ):
                ax.hlines(
                    level,
                    i - 0.45,
                    i + 0.45,
                    colors="black",
                    linestyles=style,
                    zorder=3,
                    label=label if i == 0 else None,
                )
        ax.legend(loc="upper right", fontsize=8)
        ax.set_ylabel("score")
    else:
        _no_data(ax, "drift not assessed (not enough feedback)")
    figs["drift_scores"] = fig

    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    axes = fig.subplots(1, 2)
    perf = decision["performance"]
    for ax, metric in zip(axes, ["rmse", "ndcg@10"], strict=True):
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        values = [
            (perf["training"] or {}).get(metric),
            (perf["window"] or {}).get(metric),
        ]
        if all(v is None for v in values):
            _no_data(ax, "not assessed")
            continue
        ax.bar(
            ["training (holdout)", "window"],
            [v or 0.0 for v in values],
            color=["#3b75af", "#e1812c"],
        )
    fig.tight_layout()
    figs["performance"] = fig

    fig, ax = _figure("Serving latency (ms)")
    serving = decision["serving"]
    if serving.get("available"):
        latency = {k: v for k, v in serving["latency_ms"].items() if v is not None}
        ax.bar(list(latency), list(latency.values()), color="#3b75af")
        ax.set_xlabel(
            f"{serving['requests']} requests, error rate "
            f"{(serving['error_rate'] or 0.0):.2%}"
        )
    else:
        _no_data(ax, "no serving profiles for the window")
    figs["latency"] = fig
    return figs
