"""Parsing of Kubernetes resource quantities (CPU and memory)."""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["check_memory", "parse_cpu", "parse_memory"]

_CPU_RE = re.compile(r"^(?P<number>\d+(\.\d+)?|\.\d+)(?P<unit>m?)$")
_MEMORY_RE = re.compile(
    r"^(?P<number>\d+(\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|e\d+)?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def parse_cpu(quantity: str) -> Decimal | None:
    """Parse a CPU quantity such as ``"500m"``, ``"2"`` or ``"0.5"``.

    Args:
        quantity: Kubernetes CPU quantity.

    Returns:
        The number of cores, or None when ``quantity`` is not a CPU quantity.
    """
    match = _CPU_RE.match(quantity)
    if match is None:
        return None
    number = Decimal(match["number"])
    return number / 1000 if match["unit"] == "m" else number


def parse_memory(quantity: str) -> Decimal | None:
    """Parse a memory quantity such as ``"512Mi"``, ``"2Gi"`` or ``"1e9"``.

    Args:
        quantity: Kubernetes memory quantity.

    Returns:
        The number of bytes, or None when ``quantity`` is not a memory quantity.
    """
    match = _MEMORY_RE.match(quantity)
    if match is None:
        return None
    number = Decimal(match["number"])
    unit = match["unit"] or ""
    if unit in _BINARY:
        return number * (1024 ** _BINARY[unit])
    if unit in _DECIMAL:
        return number * (1000 ** _DECIMAL[unit])
    if unit.startswith("e"):
        return number * (10 ** int(unit[1:]))
    return number


def check_memory(value: str | None) -> str | None:
    """``value`` when it is a memory quantity (or None), for pydantic validators.

    Raises:
        ValueError: ``value`` is not a Kubernetes memory quantity.
    """
    if value is not None and parse_memory(value) is None:
        msg = (
            f"'{value}' is not a Kubernetes memory quantity "
            "(expected e.g. '512Mi' or '2Gi')"
        )
        raise ValueError(msg)
    return value
