"""Latency and error rates of a window's requests, from the serving profiles."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from reelops_contracts import STATUS_ENDPOINTS, status_latency_column
from reelops_monitoring import merge_views, row_count, summarize_view
from reelops_monitoring.adapter import frequent_items, value_count, value_quantiles
from reelops_monitoring.numbers import finite_or_none

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from reelops_monitoring import ProfileView

__all__ = ["summarize_answers", "summarize_requests"]


def _partition_day(partition_id: str) -> str | None:
    """The ``yyyy-mm-dd`` folder a serving flush was written to, if any."""
    for part in partition_id.replace("\\", "/").split("/"):
        try:
            return datetime.strptime(part, "%Y-%m-%d").date().isoformat()
        except ValueError:
            continue
    return None


def _quantiles(
    view: ProfileView, column: str, ranks: tuple[float, ...]
) -> tuple[float | None, ...]:
    """``column``'s quantiles at ``ranks`` in ms (3 decimals), ``None`` if empty."""
    if column not in view.get_columns():
        return (None,) * len(ranks)
    found = value_quantiles(view, column, ranks)
    return tuple(round(q, 3) for q in found) if found else (None,) * len(ranks)


def summarize_requests(
    serving_request_profiles: Mapping[str, ProfileView],
    window_info: dict[str, Any],
) -> dict[str, Any]:
    """Latency and error rates of the window's requests, from the serving profiles.

    The service flushes one profile per batch into ``<yyyy-mm-dd>/`` folders; the
    flushes of the window's days are merged. An empty or missing folder is not an
    error: the summary says ``available: false`` and why.

    The recommendation profiles (``requests-*``) hold answered ``/recommend``
    requests: ``error_rate`` is the share of them with no recommendation
    (``top_score`` null), and ``cold_start_rate`` the share answered by the
    popularity fallback. The status profiles (``status-*``: one row per answer
    of an API endpoint, whatever its status) give ``answers``: counts by status
    class and each endpoint's latency quantiles (:func:`summarize_answers`).
    """
    start = pd.Timestamp(window_info["start"]).date().isoformat()
    end = pd.Timestamp(window_info["end"]).date().isoformat()
    in_window = {
        pid: view
        for pid, view in sorted(serving_request_profiles.items())
        if (day := _partition_day(pid)) is not None and start <= day <= end
    }
    statuses = {p: v for p, v in in_window.items() if _is_status(p)}
    chosen = {p: v for p, v in in_window.items() if not _is_status(p)}
    answers = summarize_answers(statuses.values(), f"{start}..{end}")
    if not chosen:
        total = len(serving_request_profiles)
        return {
            "available": False,
            "reason": f"no serving request profile for {start}..{end} "
            f"({total} profile file(s) in the folder, none in the window)",
            "files": 0,
            "answers": answers,
        }
    view = merge_views(chosen.values())
    summary = summarize_view(view)
    requests = row_count(view)

    def stat(column: str, name: str) -> float | None:
        if column not in summary.index:
            return None
        return finite_or_none(summary.loc[column, name])

    p95, p99 = _quantiles(view, "latency_ms", (0.95, 0.99))
    latency = {
        "mean": stat("latency_ms", "mean"),
        "p50": stat("latency_ms", "median"),
        "p95": p95,
        "p99": p99,
        "max": stat("latency_ms", "max"),
    }
    return {
        "available": True,
        "files": len(chosen),
        "requests": requests,
        "latency_ms": latency,
        "error_rate": stat("top_score", "null_share"),
        "cold_start_rate": stat("cold_start", "mean"),
        "endpoints": str(summary.loc["endpoint", "top_items"])
        if "endpoint" in summary.index
        else "",
        "answers": answers,
    }


def _is_status(partition_id: str) -> bool:
    return partition_id.replace("\\", "/").rsplit("/", 1)[-1].startswith("status-")


def summarize_answers(views: Iterable[ProfileView], period: str) -> dict[str, Any]:
    """Counts by status class and each endpoint's latency, from status profiles.

    Returns:
        ``{"available", "files", "requests", "by_class": {"2xx": n, "4xx": n,
        ...}, "by_status": {"200": n, "429": n, ...}, "latency_ms": {endpoint:
        {"count", "p50", "p95", "p99", "max"}}}``,
        or ``available: false`` and the ``reason``.
    """
    found = list(views)
    if not found:
        return {
            "available": False,
            "reason": f"no status profile for {period} (a service writes them "
            "every flush_interval_seconds and at shutdown; services before status "
            "profiling wrote none)",
            "files": 0,
        }
    view = merge_views(found)
    summary = summarize_view(view)
    latency = {}
    for endpoint in STATUS_ENDPOINTS:
        column = status_latency_column(endpoint)
        if column not in summary.index or not value_count(view, column):
            continue
        p50, p95, p99 = _quantiles(view, column, (0.5, 0.95, 0.99))
        latency[endpoint] = {
            "count": value_count(view, column),
            "p50": p50,
            "p95": p95,
            "p99": p99,
            "max": finite_or_none(summary.loc[column, "max"]),
        }
    return {
        "available": True,
        "files": len(found),
        "requests": row_count(view),
        "by_class": dict(sorted(frequent_items(view, "status_class").items())),
        "by_status": dict(sorted(frequent_items(view, "status").items())),
        "latency_ms": latency,
    }
