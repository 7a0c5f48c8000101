"""JSON-safe numbers: reports hold finite floats or ``null``, never ``Infinity``."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["finite_or_none"]


def finite_or_none(value: Any, digits: int = 6) -> float | None:
    """``value`` as a float rounded to ``digits``, or ``None``.

    ``None`` when it is missing, not a number, NaN or infinite (``json.dumps``
    would write the invalid ``Infinity``).
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, digits) if math.isfinite(number) else None
