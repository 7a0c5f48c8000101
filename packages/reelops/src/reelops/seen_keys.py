"""``SeenKeys``: the 64-bit keys met so far, in 8 bytes a key (no Python objects)."""

from __future__ import annotations

import numpy as np

__all__ = ["SeenKeys"]


class SeenKeys:
    """A growing set of int64 keys, queried and extended one batch at a time.

    The keys are held in a few sorted arrays whose sizes at least double from the
    newest to the oldest (two are merged when the newer is not half the size of
    the older), 8 bytes a key: 25 million distinct keys take 200 MB, plus as much
    again while the two biggest arrays are merged. A Python ``set`` of ints would
    take about 70 bytes a key. A batch is looked up in each array in sorted order,
    and each key is copied by a merge only a logarithmic number of times.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        """The number of distinct keys seen."""
        return sum(len(run) for run in self._runs)

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Add a batch; ``True`` where a key was seen before (earlier batches included).

        Within the batch, the first occurrence of a new key is ``False`` and later
        ones are ``True``.
        """
        keys = np.asarray(keys, dtype="int64")
        if not len(keys):
            return np.zeros(0, dtype=bool)
        distinct, first, inverse = np.unique(
            keys, return_index=True, return_inverse=True
        )
        known = np.zeros(len(distinct), dtype=bool)
        for run in self._runs:
            at = np.searchsorted(run, distinct).clip(max=len(run) - 1)
            known |= run[at] == distinct
        repeated = np.ones(len(keys), dtype=bool)
        repeated[first] = False
        repeated |= known[inverse.ravel()]
        fresh = distinct[~known]
        if len(fresh):
            self._runs.append(fresh)
            while len(self._runs) > 1 and 2 * len(self._runs[-1]) > len(self._runs[-2]):
                newer, older = self._runs.pop(), self._runs.pop()
                merged = np.concatenate([older, newer])
                merged.sort(kind="stable")
                self._runs.append(merged)
        return repeated
