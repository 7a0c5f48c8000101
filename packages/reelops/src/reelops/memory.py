"""Give the heap that a node freed back to the operating system.

glibc keeps freed memory of allocations under its mmap threshold (which grows to
32 MiB as large blocks are freed) in its arenas, for reuse by the same process:
after a node on 25M ratings, gigabytes of pandas and numpy temporaries stay in a
``kedro run`` process's resident size, and the next node's peak comes on top of
them. :class:`MemoryTrimHook` calls ``malloc_trim(0)`` after each node, which
returns the free pages at the top of the heap and the wholly free pages inside it.
Elsewhere (macOS, musl) there is no ``malloc_trim``: the hook does nothing.

Arrow keeps its own pool (mimalloc or jemalloc, not glibc's heap): every parquet a
node read went through it, and the pool holds on to the pages it freed, up to
its high-water mark (measured: a process at 0.12 GiB was at 1.37 GiB after
reading the 25M ratings and freeing them, 0.18 GiB after releasing). So the hook
also asks Arrow's default pool to release what it does not use, when pyarrow has
been imported.

Memory held by reference cycles is freed only when Python's cyclic collector runs,
and the collector is triggered by numbers of objects, not bytes: a cycle holding a
model of gigabytes is a few objects and can outlive many nodes. Measured in a
``kedro run`` on 25M ratings: the resident size between nodes rose from 1.7 to
about 5 GiB over the training stage, and one ``gc.collect()`` inside
``package_challenger`` (through gdb) freed 1.5 GiB (an array the size of
RatedEASE's weights) and the trim after it 0.5 GiB more. Collecting after a node
that grew the process (57710a3) did not reach them: the nodes that grew it were
the fits, whose models were still live outputs then, and a model becomes garbage
only when the runner releases its last use, between two nodes, where no hook
runs. So before each node, once the process is over :data:`COLLECT_ABOVE` bytes
resident, the hook runs the collector and trims again, and logs it (``collected
<n> objects before <node>: <GiB> -> <GiB>``). A full collection costs ~0.15 s in
a ``kedro run`` process; on ml-latest-small the process stays under the limit, so
the default run does not pay it.

:func:`reset_peak_rss` and :func:`peak_rss` measure a span's peak resident size
(Linux: ``/proc/self/clear_refs`` resets ``VmHWM``); ``kedro run`` logs each task's
(:class:`~reelops.run_log.ProgressHook`) to its log file.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "COLLECT_ABOVE",
    "MemoryTrimHook",
    "current_rss",
    "peak_rss",
    "reset_peak_rss",
    "trim_heap",
]

_PROC = Path("/proc/self")
_GIB = 2**30
logger = logging.getLogger(__name__)
#: A node that starts with the process over this many resident bytes gets a
#: cyclic garbage collection first (see the module doc).
COLLECT_ABOVE = 2 * 2**30


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def trim_heap() -> bool:
    """Return free heap memory to the OS; whether glibc's ``malloc_trim`` ran.

    Arrow's default memory pool releases its unused memory too (when pyarrow is
    imported; importing it here would cost the processes that never read parquet).
    """
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def reset_peak_rss(proc: Path = _PROC) -> bool:
    """Start a span: the process's peak resident size becomes its current one.

    Returns whether it was reset (Linux only; elsewhere, or without the right to
    write ``clear_refs``, the peak keeps covering the process's whole life).
    """
    try:
        (proc / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_bytes(proc: Path, field: str) -> int | None:
    """A ``kB`` line of ``proc``'s ``status`` in bytes; None without it."""
    try:
        status = (proc / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return None


def peak_rss(proc: Path = _PROC) -> int | None:
    """The process's peak resident bytes since :func:`reset_peak_rss` (``VmHWM``).

    None where ``/proc`` has no such line (not Linux). Children are not counted.
    """
    return _status_bytes(proc, "VmHWM")


def current_rss(proc: Path = _PROC) -> int | None:
    """The process's resident bytes now (``VmRSS``); None where ``/proc`` lacks it."""
    return _status_bytes(proc, "VmRSS")


class MemoryTrimHook:
    """After each node, :func:`trim_heap`; before it, collect cycles when big.

    See the module docstring: a node that starts with the process over
    ``collect_above`` resident bytes gets ``gc.collect()`` and a trim first,
    logged (``collected <n> objects before <node>: <GiB> -> <GiB>``, INFO: the
    run's log file).
    """

    def __init__(self, collect_above: int = COLLECT_ABOVE) -> None:
        """Collect cyclic garbage before nodes once the process is this big."""
        self._collect_above = collect_above

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Free what reference cycles hold before a big process runs the node."""
        now = current_rss()
        if now is None or now <= self._collect_above:
            return
        found = gc.collect()
        trim_heap()
        after = current_rss()
        # INFO: the run's log file, beside the node's peak (reelops.run_log)
        logger.info(
            "collected %d objects before %s: %.3f -> %.3f GiB",
            found,
            getattr(node, "name", node),
            now / _GIB,
            (after or 0) / _GIB,
        )

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        """Return what the node freed to the OS before the next node loads."""
        trim_heap()
