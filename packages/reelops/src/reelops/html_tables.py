"""Small HTML tables for reports, with numbers people read at a glance.

Counts print as integers with thousands separators (``12,345``, never
``1.234e+04`` or ``200.0``); other numbers with four significant digits, without
an exponent from 1,000 up. A value is a count when it is an integer, an integral
float, or its key names a count (``count``, ``n``, ``n_*``, ``*_count``,
``requests``, ...): effective sizes estimated from a sketch are counts too.
"""

from __future__ import annotations

import html
import math
import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["flatten", "format_value", "html_table"]

_NO_EXPONENT_FROM = 1000
_COUNT_KEYS = frozenset({"count", "n", "requests", "files", "rows", "users"})


def _is_count(key: str) -> bool:
    name = key.rsplit(".", 1)[-1]
    return name in _COUNT_KEYS or name.startswith("n_") or name.endswith("_count")


def _format_number(key: str, number: float) -> str:
    if math.isnan(number):
        return "-"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if _is_count(key) or number.is_integer():
        return f"{round(number):,}"
    return f"{number:,.1f}" if abs(number) >= _NO_EXPONENT_FROM else f"{number:.4g}"


def format_value(key: str, value: Any) -> str:
    """``value`` as report text (not escaped); ``-`` for a missing number."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, numbers.Integral):
        text = f"{int(value):,}"
    elif isinstance(value, numbers.Real):
        text = _format_number(key, float(value))
    elif isinstance(value, list | tuple):
        text = ", ".join(format_value(key, v) for v in value)
    else:
        text = str(value)
    return text


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys (``latency_ms.p95``)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def html_table(rows: Mapping[str, Mapping[str, Any]], *, index: str = "") -> str:
    """An HTML table: one row per key of ``rows``, columns in first-seen order."""
    columns = list(dict.fromkeys(key for row in rows.values() for key in row))
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in [index, *columns])
    body = "".join(
        f"<tr><th>{esc(str(name))}</th>"
        + "".join(f"<td>{esc(format_value(c, row.get(c)))}</td>" for c in columns)
        + "</tr>"
        for name, row in rows.items()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
