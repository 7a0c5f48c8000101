"""RatedMoviesCache on its own: ages, versions, own writes, races, eviction.

The database is a dict here (the cache only calls ``fetch``); the real stores,
SQLite and PostgreSQL, shared by two store instances, are in test_feedback.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest

from reelops_serving.exclusions import RatedMoviesCache


class Table:
    """A feedback table: user -> movies, counting the reads."""

    def __init__(self) -> None:
        self.rated: dict[int, set[int]] = {}
        self.reads: list[list[int]] = []
        self.version = 0
        self.down = False
        self.after_read: Callable[[], None] | None = None

    def fetch(self, users: Sequence[int]) -> Mapping[int, set[int]]:
        if self.down:
            raise ConnectionError("database down")
        self.reads.append(list(users))
        answer = {u: set(self.rated[u]) for u in users if u in self.rated}
        if self.after_read is not None:
            self.after_read()
        return answer

    def commit(self, user: int, movie: int) -> None:
        self.rated.setdefault(user, set()).add(movie)
        self.version += 1


def test_without_a_version_entries_live_max_age_seconds() -> None:
    # GIVEN a cache of 2 s over a table where user 1 rated movie 10
    table, now = Table(), [100.0]
    table.commit(1, 10)
    cache = RatedMoviesCache(
        table.fetch, max_age_seconds=2.0, max_users=10, clock=lambda: now[0]
    )
    assert cache.lookup([1, 2]) == {1: frozenset({10})}
    # WHEN another worker commits a rating of user 1, 1.9 s later
    table.commit(1, 11)
    now[0] += 1.9
    # THEN the cache answers without reading (the stated staleness)...
    assert cache.lookup([1, 2]) == {1: frozenset({10})}
    assert table.reads == [[1, 2]]
    # ...and reads again once the entries are 2 s old
    now[0] += 0.1
    assert cache.lookup([2, 1]) == {1: frozenset({10, 11})}
    assert table.reads == [[1, 2], [1, 2]]


def test_with_a_version_any_commit_empties_the_cache() -> None:
    # GIVEN a cache whose database tells of commits (SQLite's data_version)
    table = Table()
    cache = RatedMoviesCache(
        table.fetch, max_age_seconds=0.001, max_users=10, version=lambda: table.version
    )
    assert cache.lookup([1]) == {}
    # THEN entries do not age: no commit, no read, however long
    assert cache.lookup([1]) == {}
    assert len(table.reads) == 1
    # AND a commit anywhere is seen by the next lookup
    table.commit(1, 10)
    assert cache.lookup([1]) == {1: frozenset({10})}
    assert len(table.reads) == 2


def test_own_writes_are_seen_at_once() -> None:
    table = Table()
    cache = RatedMoviesCache(table.fetch, max_age_seconds=3600, max_users=10)
    assert cache.lookup([1]) == {}
    table.commit(1, 10)
    cache.add(1, 10)  # this worker's commit
    assert cache.lookup([1]) == {1: frozenset({10})}
    assert len(table.reads) == 1


def test_an_answer_read_while_a_commit_lands_is_not_kept() -> None:
    # GIVEN a read of user 1 that overlaps this worker's commit of a rating of theirs
    table = Table()
    cache = RatedMoviesCache(table.fetch, max_age_seconds=3600, max_users=10)

    def commit_during_the_read() -> None:
        table.after_read = None
        table.commit(1, 10)
        cache.add(1, 10)

    table.after_read = commit_during_the_read
    # WHEN the lookup answers what it read before the commit
    assert cache.lookup([1]) == {}
    # THEN that answer was not kept: the next lookup reads the commit
    assert cache.lookup([1]) == {1: frozenset({10})}
    assert len(table.reads) == 2


def test_the_oldest_entry_goes_first() -> None:
    table = Table()
    cache = RatedMoviesCache(table.fetch, max_age_seconds=3600, max_users=2)
    cache.lookup([1])
    cache.lookup([2])
    cache.lookup([1])  # refreshes nothing (a hit), 1 stays the oldest
    cache.lookup([3])
    assert len(cache) == 2
    table.reads.clear()
    cache.lookup([2, 3])
    assert table.reads == []
    cache.lookup([1])
    assert table.reads == [[1]]


def test_a_failed_read_raises_and_keeps_the_cache() -> None:
    table = Table()
    cache = RatedMoviesCache(table.fetch, max_age_seconds=3600, max_users=10)
    table.commit(1, 10)
    assert cache.lookup([1]) == {1: frozenset({10})}

    table.down = True
    with pytest.raises(ConnectionError, match="database down"):
        cache.lookup([1, 2])
    assert cache.lookup([1]) == {1: frozenset({10})}
