"""Reference-vs-window distributions of a drift-tested column, as shares.

A numeric column (``ks``, ``hellinger``) is cut at the reference's deciles (its
KLL sketch), so each bar of the reference holds about a tenth of its values and a
shift of the window shows as bars that no longer match; tied deciles (a rating
scale, a 0/1 flag) collapse into fewer bins. A categorical column
(``chi_square``) shows the share of each frequent item. Shares, not counts: the
two profiles differ in size by orders of magnitude; the counts are in the legend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reelops_monitoring.adapter import (
    frequent_items,
    value_count,
    value_histogram,
    value_quantiles,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from reelops._types import Figure
    from reelops_monitoring import ProfileView

__all__ = [
    "DECILES",
    "ColumnShares",
    "column_shares",
    "shares_figure",
    "split_points",
]

#: The reference ranks a numeric column is cut at.
DECILES: tuple[float, ...] = tuple(i / 10 for i in range(1, 10))

_REFERENCE_COLOUR, _WINDOW_COLOUR = "#3b75af", "#e1812c"


@dataclass(frozen=True)
class ColumnShares:
    """One column's share of values per bin (or category), reference and window.

    ``edges`` are a numeric column's split points (empty for a categorical one).
    """

    column: str
    labels: tuple[str, ...]
    reference: tuple[float, ...]
    window: tuple[float, ...]
    n_reference: int
    n_window: int
    edges: tuple[float, ...] = ()


def split_points(
    reference_quantiles: Sequence[float], low: float, high: float
) -> tuple[float, ...]:
    """Bin edges from the reference's quantiles, within ``(low, high]``.

    Tied quantiles collapse; an edge at or below ``low`` (the smallest value of
    both profiles) would leave the first bin empty and is dropped. With no edge
    left and ``low < high``, the midpoint splits the range in two.
    """
    points = sorted({q for q in reference_quantiles if low < q <= high})
    if not points and low < high:
        points = [(low + high) / 2]
    return tuple(points)


def _label(points: Sequence[float], i: int) -> str:
    if not points:
        return "all"
    if i == 0:
        return f"< {points[0]:g}"
    if i == len(points):
        return f">= {points[-1]:g}"
    return f"[{points[i - 1]:g}, {points[i]:g})"


def _numeric_shares(
    reference: ProfileView, window: ProfileView, column: str
) -> ColumnShares:
    ends = [
        q
        for view in (reference, window)
        for q in value_quantiles(view, column, (0.0, 1.0))
    ]
    points = split_points(
        value_quantiles(reference, column, DECILES),
        min(ends, default=0.0),
        max(ends, default=0.0),
    )
    ref, win = (value_histogram(v, column, points) for v in (reference, window))
    return ColumnShares(
        column=column,
        labels=tuple(_label(points, i) for i in range(len(points) + 1)),
        reference=ref.shares,
        window=win.shares,
        n_reference=ref.n,
        n_window=win.n,
        edges=points,
    )


def _categorical_shares(
    reference: ProfileView, window: ProfileView, column: str
) -> ColumnShares:
    ref, win = frequent_items(reference, column), frequent_items(window, column)
    n_ref, n_win = value_count(reference, column), value_count(window, column)
    labels = sorted(set(ref) | set(win), key=lambda k: (-ref.get(k, 0), k))
    return ColumnShares(
        column=column,
        labels=tuple(labels),
        reference=tuple(ref.get(k, 0) / n_ref if n_ref else 0.0 for k in labels),
        window=tuple(win.get(k, 0) / n_win if n_win else 0.0 for k in labels),
        n_reference=n_ref,
        n_window=n_win,
    )


def column_shares(
    reference: ProfileView, window: ProfileView, column: str, algorithm: str
) -> ColumnShares:
    """The column's shares: frequent items for ``chi_square``, else decile bins.

    Raises:
        MissingColumnError: If either profile lacks ``column``.
    """
    if algorithm == "chi_square":
        return _categorical_shares(reference, window, column)
    return _numeric_shares(reference, window, column)


def shares_figure(shares: ColumnShares, title: str) -> Figure:
    """Grouped bars of the two share vectors, ``n=`` of each in the legend."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.6), dpi=100)
    ax = fig.subplots()
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    positions = range(len(shares.labels))
    width = 0.4
    for offset, values, colour, label in (
        (-width / 2, shares.reference, _REFERENCE_COLOUR, "reference"),
        (width / 2, shares.window, _WINDOW_COLOUR, "window"),
    ):
        n = shares.n_reference if label == "reference" else shares.n_window
        ax.bar(
            [p + offset for p in positions],
            values,
            width,
            color=colour,
            label=f"{label} (n={n:,})",
        )
    ax.set_xticks(list(positions), shares.labels, rotation=30, ha="right")
    ax.set_ylabel(f"share of {shares.column} values")
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
