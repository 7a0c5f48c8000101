"""The garbage-collector settings of a serving process, once its model is loaded.

Everything loaded at start-up lives as long as the process: ``gc.freeze()`` keeps
it out of every later collection. The per-request objects that BentoML's timers
keep alive for ``traffic.timeout`` (~40k at 1,000 req/s) then fill the oldest
generation, and CPython's default thresholds ``(700, 10, 10)`` ran a full
collection of them about once a second, 10-200 ms each (81 in 100 s at 1,000
req/s, measured with ``gc.callbacks`` in the worker). A gen-2 threshold of 100
runs them ten times less often; gen-0 and gen-1 collections (under 3 ms) are
unchanged, and memory stays bounded because garbage cycles die young.
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "settle_heap"]

#: CPython collection thresholds of a serving process after :func:`settle_heap`.
GC_THRESHOLDS = (700, 10, 100)


def settle_heap() -> None:
    """Collect, freeze what survives, and collect the oldest generation rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
