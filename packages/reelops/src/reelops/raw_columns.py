"""The bookkeeping columns every raw table carries (a leaf module: no I/O imports)."""

from __future__ import annotations

__all__ = ["LINE", "PARSE_ERROR"]

#: Column holding the 1-based line number of each record in its file.
LINE = "_line"
#: Column holding why a record could not be split into fields (else empty).
PARSE_ERROR = "_parse_error"
