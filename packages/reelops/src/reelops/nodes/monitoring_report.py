"""Monitoring-report stage: the retrain decision rendered for people.

A self-contained HTML report (:func:`report_monitoring`: every plot embedded as a
base64 PNG, so the single MLflow artifact shows them) and the same summary plots
as PNG files (:func:`plot_monitoring`) of the decision :func:`~reelops.nodes.
monitoring.decide_retrain` wrote; both are saved and logged to MLflow by catalog
datasets. Each drift verdict comes with the sentence that explains its score
(:mod:`reelops.drift_explanation`) and, for a drifted column, its reference and
window distributions (:mod:`reelops.drift_distributions`); a window too small to
judge is flagged at the top.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from typing import Any

from reelops._pydantic import as_config
from reelops._types import Figure
from reelops.drift_distributions import column_shares, shares_figure
from reelops.drift_explanation import explain_drift, window_warnings
from reelops.html_tables import flatten, format_value, html_table
from reelops_monitoring import (
    MissingColumnError,
    MonitoringConfig,
    ProfileView,
    merge_views,
    summarize_view,
)
from reelops_monitoring.adapter import value_count

__all__ = ["plot_monitoring", "report_monitoring"]

_FEATURES = ("rating", "known_user_residual", "user_ratings", "new_user")
_STATS = ("count", "null_count", "mean", "stddev", "min", "median", "max")
_FLAGGED = ("DRIFT", "POSSIBLE_DRIFT")
# Top-level fields of decision.json with a section of their own; any other field
# (decision.json grows) is rendered as a generic table at the end.
_KNOWN = frozenset(
    {
        "retrain",
        "reasons",
        "scores",
        "data_sha256",
        "status",
        "notes",
        "window",
        "model",
        "performance",
        "serving",
    }
)
_STYLE = """body{font-family:sans-serif;margin:2em;max-width:75em}
td,th{padding:2px 8px;text-align:left;vertical-align:top}
table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}
.verdict{padding:.4em .8em;border-radius:4px;color:#fff;display:inline-block}
.retrain,.blocked,.DRIFT{background:#c0392b}.ok,.NO_DRIFT{background:#2e7d32}
.POSSIBLE_DRIFT,.other{background:#e1812c}.not_enough_feedback{background:#757575}
.badge{padding:1px 6px;border-radius:3px;color:#fff;white-space:nowrap}
.warn{background:#fff3cd;border:2px solid #e0a800;padding:.5em 1em;margin:1em 0}
img{display:block;margin:.5em 0;max-width:100%}"""


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _items(lines: list[str] | None) -> str:
    body = "".join(f"<li>{html.escape(str(line))}</li>" for line in lines or [])
    return f"<ul>{body or '<li>none</li>'}</ul>"


def _summary_rows(
    reference: ProfileView, window: ProfileView, columns: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    ref, win = summarize_view(reference), summarize_view(window)
    return {
        f"{column} ({label})": {stat: table.loc[column, stat] for stat in _STATS}
        for column in columns
        for label, table in (("reference", ref), ("window", win))
        if column in table.index
    }


def _n_values(
    reference: ProfileView, window: ProfileView, column: str
) -> tuple[int, int] | None:
    try:
        return value_count(window, column), value_count(reference, column)
    except MissingColumnError:
        return None


def _compared_with(
    decision: Mapping[str, Any],
    training: ProfileView,
    traffic_history: Mapping[str, ProfileView | Callable[[], ProfileView]],
) -> dict[str, ProfileView]:
    """Each reference the decision compared columns with, by source name.

    ``training`` is the training data's profile; ``traffic`` and ``deployment``
    merge the served windows the decision names (``reference.traffic_windows``,
    ``reference.deployment_windows``) from ``traffic_history``.
    """
    named = decision.get("reference") or {}
    found = {"training": training}
    for source, field in (
        ("traffic", "traffic_windows"),
        ("deployment", "deployment_windows"),
    ):
        views = [
            view() if callable(view) else view
            for key in named.get(field) or []
            if (view := traffic_history.get(key)) is not None
        ]
        if views:
            found[source] = merge_views(views)
    return found


def _drift_plot(
    reference: ProfileView,
    window: ProfileView,
    column: str,
    drift: Mapping[str, Any],
    source: str,
) -> str:
    algorithm = str(drift.get("algorithm"))
    try:
        shares = column_shares(reference, window, column, algorithm)
    except MissingColumnError as exc:
        return f"<p>{html.escape(str(exc))}</p>"
    score = drift.get("score")
    title = (
        f"{column}: {drift.get('category')} ({algorithm}, score "
        f"{'inf' if score is None else f'{score:.2f}'}), share of values "
        f"(n={shares.n_reference:,} reference: {source}, n={shares.n_window:,} "
        "window)"
    )
    return _img(
        shares_figure(shares, title), f"{column} distributions: window vs {source}"
    )


def _drift_section(
    decision: Mapping[str, Any],
    config: MonitoringConfig,
    references: Mapping[str, ProfileView],
    window: ProfileView,
) -> str:
    """Each column's verdict explained; drifted ones drawn against their reference.

    A column is drawn against the reference it was compared with (``training``
    when the decision names none or its windows are gone).
    """
    columns = ((decision.get("scores") or {}).get("drift") or {}).get("columns") or {}
    if not columns:
        return "<p>not assessed</p>"
    rows = []
    source = {
        column: str(drift.get("reference"))
        if drift.get("reference") in references
        else "training"
        for column, drift in columns.items()
    }
    for column, drift in columns.items():
        category = str(drift.get("category", "NO_DRIFT"))
        spec = config.drift.columns.get(column)
        why = explain_drift(
            drift,
            spec,
            n_values=_n_values(references[source[column]], window, column),
            min_users=config.drift.min_users_of(spec),
        )
        rows.append(
            f"<tr><th>{html.escape(column)}</th><td>"
            f'<span class="badge {html.escape(category)}">{html.escape(category)}'
            f"</span></td><td>{html.escape(why)}</td></tr>"
        )
    plots = "".join(
        _drift_plot(references[source[column]], window, column, drift, source[column])
        for column, drift in columns.items()
        if drift.get("category") in _FLAGGED
    )
    return (
        "<table><thead><tr><th>column</th><th>verdict</th><th>why</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
        f"<h3>Distributions of the drifted columns</h3>{plots or '<p>none</p>'}"
    )


def _decay_lines(decision: Mapping[str, Any], config: MonitoringConfig) -> list[str]:
    decay = (decision.get("scores") or {}).get("decay") or {}
    lines = []
    for metric, found in (decay.get("metrics") or {}).items():
        spec = config.decay.metrics.get(metric)
        degradation = found.get("degradation")
        change = (
            "change unknown"
            if degradation is None
            else f"{abs(degradation):.1%} {'worse' if degradation > 0 else 'better'}"
        )
        limit = "no limit" if spec is None else f"{spec.max_relative_degradation:.0%}"
        # the value it was compared with: the holdout's or served traffic's
        # (users matched: at the window's mix of users)
        reference = found.get("reference") or "training"
        matched = ", users matched" if found.get("standardized") else ""
        lines.append(
            f"{metric}: {reference}{matched} "
            f"{format_value(metric, found.get('training'))}, "
            f"window {format_value(metric, found.get('window'))}: {change} "
            f"(retrain past {limit}, on n={format_value('n', decay.get('n_feedback'))}"
            " rated rows)"
        )
    return lines


def _key_values(value: Any) -> str:
    if isinstance(value, dict):
        flat = flatten(value)
        return html_table({k: {"value": v} for k, v in flat.items()}) if flat else "-"
    if isinstance(value, list):
        return _items([format_value("", v) for v in value])
    return f"<p>{html.escape(format_value('', value))}</p>"


def _extra_sections(decision: Mapping[str, Any]) -> str:
    scores = decision.get("scores") or {}
    extra = {
        **{k: v for k, v in decision.items() if k not in _KNOWN},
        **{
            f"scores.{k}": v
            for k, v in scores.items()
            if k not in {"drift", "quality", "decay"}
        },
    }
    return "".join(
        f"<h2>{html.escape(key)}</h2>{_key_values(value)}"
        for key, value in extra.items()
    )


def _header(decision: Mapping[str, Any]) -> str:
    esc = html.escape
    status = str(decision.get("status", "unknown"))
    verdict = "RETRAIN" if decision.get("retrain") else status.upper()
    known = {"retrain", "ok", "blocked", "not_enough_feedback"}
    css = "retrain" if decision.get("retrain") else status
    css = css if css in known else "other"
    window, model = decision.get("window") or {}, decision.get("model") or {}
    return (
        f'<h1>Monitoring: <span class="verdict {esc(css)}">'
        f"{esc(verdict)}</span></h1>\n"
        f"<p>Window {esc(str(window.get('start')))} to {esc(str(window.get('end')))}"
        f" ({format_value('n_rows', window.get('n_rows'))} feedback rows). Deployed "
        f"model: {esc(str(model.get('model_name')))} v{esc(str(model.get('version')))}"
        f" (@{esc(str(model.get('alias')))}, {esc(str(model.get('estimator')))}), "
        f"trained on data sha256 {esc(str(decision.get('data_sha256')))}.</p>"
    )


def report_monitoring(
    decision: dict[str, Any],
    *,
    reference_profile: ProfileView,
    window_profile: ProfileView,
    reference_prediction_profile: ProfileView,
    window_prediction_profile: ProfileView,
    monitoring: MonitoringConfig,
    traffic_history: Mapping[str, ProfileView | Callable[[], ProfileView]]
    | None = None,
) -> str:
    """A self-contained HTML report of the decision, its plots embedded as PNG.

    Warnings first (what the window was too small to judge), then the reasons,
    each drift verdict with the sentence explaining its score, the drifted
    columns' distributions (against the reference each was compared with: the
    training data, or the served windows of ``traffic_history`` the decision
    names), quality, performance and decay, feature and prediction summaries,
    serving, and any other field of ``decision``.
    """
    config = as_config(MonitoringConfig, monitoring, "parameters 'monitoring'")
    warnings = window_warnings(decision, config)
    warn = (
        f'<div class="warn"><strong>Too small to judge</strong>{_items(warnings)}</div>'
        if warnings
        else ""
    )
    quality = (decision.get("scores") or {}).get("quality") or {}
    perf = decision.get("performance") or {}
    perf_rows = {
        metric: {
            "training (holdout)": (perf.get("training") or {}).get(metric),
            "window": (perf.get("window") or {}).get(metric),
        }
        for metric in {**(perf.get("training") or {}), **(perf.get("window") or {})}
    }
    serving = decision.get("serving") or {}
    figures = plot_monitoring(decision, monitoring)
    references = _compared_with(decision, reference_profile, traffic_history or {})
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>reelops monitoring</title>
<style>{_STYLE}</style>
</head><body>
{_header(decision)}
{warn}
<h2>Reasons</h2>{_items(decision.get("reasons"))}
<h2>Notes</h2>{_items(decision.get("notes"))}
<h2>Drift</h2>
{_img(figures["drift_scores"], "drift scores and thresholds")}
{_drift_section(decision, config, references, window_profile)}
<h2>Data quality</h2>{html_table(quality) if quality else "<p>not assessed</p>"}
<h2>Performance (n={format_value("n", perf.get("n_feedback"))} rated rows)</h2>
{html_table(perf_rows, index="metric") if perf_rows else "<p>not assessed</p>"}
{_items(_decay_lines(decision, config))}
{_img(figures["performance"], "performance: training vs window")}
<h2>Features: reference vs window</h2>
{html_table(_summary_rows(reference_profile, window_profile, _FEATURES))}
<h2>Predictions: reference vs window (informational)</h2>
{
        html_table(
            _summary_rows(
                reference_prediction_profile, window_prediction_profile, ("prediction",)
            )
        )
    }
<h2>Serving</h2>{_key_values(serving)}
{_img(figures["latency"], "serving latency")}
{_extra_sections(decision)}
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
    return column.get("score") is None and column.get("category") == "DRIFT"


def _bar_height(column: Mapping[str, Any], drift_threshold: float) -> float:
    if _infinite(column):
        return 1.5 * drift_threshold
    return float(column.get("score") or 0.0)


def _count(value: Any) -> str:
    return format_value("n", value or 0)


def _drift_scores_figure(
    decision: Mapping[str, Any], config: MonitoringConfig
) -> Figure:
    drift = (decision.get("scores") or {}).get("drift") or {}
    n_rows = drift.get("n_rows", (decision.get("window") or {}).get("n_rows"))
    fig, ax = _figure(
        f"Drift score per column (bars) and thresholds, window n={_count(n_rows)} rows"
    )
    columns = drift.get("columns") or {}
    if not columns:
        _no_data(ax, f"drift not assessed (n={_count(n_rows)} rows)")
        return fig
    names = list(columns)
    specs = [config.drift.columns.get(n) for n in names]
    colours = {"DRIFT": "#c0392b", "POSSIBLE_DRIFT": "#e1812c"}
    bars = ax.bar(
        [
            f"{n}\nn={_count(columns[n].get('n_target'))}"
            f"/{_count(columns[n].get('n_reference'))}"
            for n in names
        ],
        [
            _bar_height(columns[n], spec.drift if spec else 1.0)
            for n, spec in zip(names, specs, strict=True)
        ],
        color=[colours.get(columns[n].get("category"), "#3b75af") for n in names],
    )
    # A score JSON holds as null in DRIFT is infinite (a category the
    # reference never had): drawn past the threshold and labelled.
    ax.bar_label(bars, labels=["inf" if _infinite(columns[n]) else "" for n in names])
    for i, spec in enumerate(specs):
        for level, style, label in (
            (
                (spec.drift, "--", "DRIFT from"),
                (spec.possible_drift, ":", "POSSIBLE_DRIFT from"),
            )
            if spec
            else ()
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
    ax.set_xlabel("n = effective samples (distinct users), window / reference")
    return fig


def _performance_figure(decision: Mapping[str, Any]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    axes = fig.subplots(1, 2)
    perf = decision.get("performance") or {}
    fig.suptitle(
        f"Deployed model: training holdout vs window (window n="
        f"{_count(perf.get('n_feedback'))} rated rows)",
        fontsize=10,
    )
    for ax, metric in zip(axes, ["rmse", "ndcg@10"], strict=True):
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        values = [
            (perf.get("training") or {}).get(metric),
            (perf.get("window") or {}).get(metric),
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
    return fig


def _latency_figure(decision: Mapping[str, Any]) -> Figure:
    serving = decision.get("serving") or {}
    if not serving.get("available"):
        fig, ax = _figure("Serving latency (ms), n=0 requests")
        _no_data(ax, "no serving profiles for the window")
        return fig
    fig, ax = _figure(
        f"Serving latency (ms), n={_count(serving.get('requests'))} requests"
    )
    latency = {
        k: v for k, v in (serving.get("latency_ms") or {}).items() if v is not None
    }
    ax.bar(list(latency), list(latency.values()), color="#3b75af")
    ax.set_xlabel(f"error rate {(serving.get('error_rate') or 0.0):.2%}")
    return fig


def plot_monitoring(
    decision: dict[str, Any], monitoring: MonitoringConfig
) -> dict[str, Figure]:
    """PNG plots: drift scores vs thresholds, performance vs training, latency.

    Each names the counts it rests on (``n=``).
    """
    config = as_config(MonitoringConfig, monitoring, "parameters 'monitoring'")
    return {
        "drift_scores": _drift_scores_figure(decision, config),
        "performance": _performance_figure(decision),
        "latency": _latency_figure(decision),
    }
