"""Adaptive batching of /predict: concurrent requests share one model call."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from reelops_serving.batching import MicroBatcher
from reelops_serving.engine import RecommenderEngine
from reelops_serving.errors import UnknownMovieError

if TYPE_CHECKING:
    from collections.abc import Sequence


def doubling(calls: list[list[int]]) -> Any:
    def batch(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        return [2 * i for i in items]

    return batch


async def gather(batcher: MicroBatcher[int, int], items: list[int]) -> list[int]:
    return list(await asyncio.gather(*(batcher.submit(i) for i in items)))


def test_concurrent_requests_share_one_call_and_keep_their_order() -> None:
    calls: list[list[int]] = []
    batcher = MicroBatcher(doubling(calls), max_batch_size=64, max_latency_ms=0)
    assert asyncio.run(gather(batcher, list(range(10)))) == [2 * i for i in range(10)]
    assert calls == [list(range(10))]


def test_a_full_batch_is_answered_at_once() -> None:
    calls: list[list[int]] = []
    batcher = MicroBatcher(doubling(calls), max_batch_size=4, max_latency_ms=0)
    assert asyncio.run(gather(batcher, list(range(10)))) == [2 * i for i in range(10)]
    assert [len(c) for c in calls] == [4, 4, 2]
    assert list(batcher.batch_sizes) == [4, 4, 2]


def test_a_lone_request_waits_at_most_max_latency() -> None:
    calls: list[list[int]] = []
    batcher = MicroBatcher(doubling(calls), max_batch_size=64, max_latency_ms=20)

    async def late_second() -> list[int]:
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.005)  # within the 20 ms window: same batch
        second = await batcher.submit(2)
        return [await first, second]

    assert asyncio.run(late_second()) == [2, 4]
    assert calls == [[1, 2]]


def test_a_failing_batch_fails_every_request_of_it() -> None:
    def broken(items: Sequence[int]) -> list[int]:
        raise UnknownMovieError("unknown movie_id 7: not in the catalog of model m")

    batcher = MicroBatcher(broken, max_batch_size=8, max_latency_ms=0)

    async def both() -> list[Any]:
        return await asyncio.gather(
            batcher.submit(1), batcher.submit(2), return_exceptions=True
        )

    errors = asyncio.run(both())
    assert [type(e) for e in errors] == [UnknownMovieError, UnknownMovieError]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"max_batch_size": 0, "max_latency_ms": 0},
            "max_batch_size must be >= 1, got 0",
        ),
        (
            {"max_batch_size": 1, "max_latency_ms": -1},
            "max_latency_ms must be >= 0, got -1",
        ),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        MicroBatcher(doubling([]), **kwargs)


@pytest.mark.parametrize("model", ["ease", "bias"])
def test_batched_predictions_equal_single_ones(
    bundles: dict[str, Any], model: str
) -> None:
    # GIVEN many pairs: known and unknown users, rated and unrated movies
    engine = RecommenderEngine(bundles[model])
    rng = np.random.default_rng(0)
    users = [*rng.integers(1, 61, 150).tolist(), 0, 999_999]
    movies = rng.choice(engine.movie_ids, len(users)).tolist()
    pairs = list(zip(users, movies, strict=True))
    # WHEN they are predicted in one call and one by one
    batched = engine.predict_many(pairs)
    single = [engine.predict(u, m) for u, m in pairs]
    # THEN the ratings and fallback flags are identical
    assert batched == single
    assert any(f for _, f in batched)
    assert not all(f for _, f in batched)


def test_a_batch_with_an_unknown_movie_names_it(bundles: dict[str, Any]) -> None:
    engine = RecommenderEngine(bundles["bias"])
    with pytest.raises(UnknownMovieError, match=r"^unknown movie_id 999999999: "):
        engine.predict_many([(1, int(engine.movie_ids[0])), (1, 999_999_999)])
