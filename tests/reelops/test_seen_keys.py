"""``SeenKeys`` flags exactly what a Python set would, in 8 bytes a key."""

from __future__ import annotations

import numpy as np

from reelops.seen_keys import SeenKeys


def test_repeats_within_and_across_batches_are_flagged() -> None:
    seen = SeenKeys()
    assert seen.add(np.array([5, 3, 5, 7, 3])).tolist() == [0, 0, 1, 0, 1]
    assert seen.add(np.array([7, 8, 8, 1])).tolist() == [1, 0, 1, 0]
    assert seen.add(np.array([], dtype="int64")).tolist() == []
    assert len(seen) == 5


def test_matches_a_set_over_many_batches() -> None:
    # GIVEN batches of random keys, many repeated, in batches of varied sizes
    rng = np.random.default_rng(0)
    seen, reference = SeenKeys(), set()
    for size in rng.integers(0, 3000, 60):
        batch = rng.integers(-(2**62), 2**62, size) % 20_000
        # WHEN added THEN flagged as a set, key by key in order, would flag them
        expected = []
        for key in batch.tolist():
            expected.append(key in reference)
            reference.add(key)
        assert seen.add(batch).tolist() == expected
    assert len(seen) == len(reference)
