"""Adaptive batching of single requests on the event loop (``/predict``).

BentoML's ``@bentoml.api(batchable=True)`` makes the HTTP input a list: clients
would have to send batches. :class:`MicroBatcher` keeps one pair per request and
batches on the server instead: a request's item waits in a queue, and the queue is
answered with one call of the batch function when it holds ``max_batch_size``
items or when ``max_latency_ms`` has passed since its first item (0: at the next
turn of the event loop, so requests parsed in the same turn share one call and a
lone request waits for nothing). The batch function runs on the event loop, as the
single-request endpoints do.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["MicroBatcher"]

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Answer concurrent :meth:`submit` calls with one call of ``batch_fn``.

    Args:
        batch_fn: Maps a list of items to their results, in order.
        max_batch_size: Items per call at most.
        max_latency_ms: Longest wait of the first queued item (0: the next turn
            of the event loop).

    Raises:
        ValueError: ``max_batch_size`` < 1 or ``max_latency_ms`` < 0.
    """

    def __init__(
        self,
        batch_fn: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_batch_size: int,
        max_latency_ms: float,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_latency_ms < 0:
            raise ValueError(f"max_latency_ms must be >= 0, got {max_latency_ms}")
        self._batch_fn = batch_fn
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms
        self._items: list[T] = []
        self._futures: list[asyncio.Future[R]] = []
        self._handle: asyncio.Handle | asyncio.TimerHandle | None = None
        #: Sizes of the last 1,000 batches.
        self.batch_sizes: deque[int] = deque(maxlen=1000)

    async def submit(self, item: T) -> R:
        """The result of ``item``, computed with the items queued alongside it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._items.append(item)
        self._futures.append(future)
        if len(self._items) >= self.max_batch_size:
            self._flush()
        elif self._handle is None:
            if self.max_latency_ms:
                self._handle = loop.call_later(self.max_latency_ms / 1e3, self._flush)
            else:
                self._handle = loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        items, futures = self._items, self._futures
        self._items, self._futures = [], []
        if not items:
            return
        self.batch_sizes.append(len(items))
        try:
            results = self._batch_fn(items)
        except Exception as exc:
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result in zip(futures, results, strict=True):
            if not future.done():
                future.set_result(result)
