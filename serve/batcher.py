"""Micro-batching toward one shard: many events per Ray call, one call in flight.

Events wait at most `max_delay` (or until `max_events` are queued) before a call goes out.
While a call is in flight the next batch fills up, and goes out the moment the call
returns: the busier the gateway, the larger the batches, with no extra waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchFailed(RuntimeError):
    """The call carrying this item failed or timed out: it is not known to be durable."""


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        call: Callable[[list[Item]], Awaitable[list[Result]]],
        *,
        max_items: int,
        max_delay_s: float,
    ) -> None:
        self._call = call
        self._max_items = max_items
        self._max_delay_s = max_delay_s
        self._items: list[Item] = []
        self._futures: list[asyncio.Future[Result]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._items.append(item)
        self._futures.append(future)
        if len(self._items) >= self._max_items or self._max_delay_s == 0:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_delay_s, self._send)
        return await future

    @property
    def queued(self) -> int:
        return len(self._items)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._in_flight is not None or not self._items:
            return  # the call in flight sends what has queued when it returns
        items, futures = self._items, self._futures
        self._items, self._futures = [], []
        self._in_flight = asyncio.create_task(self._deliver(items, futures))

    async def _deliver(self, items: list[Item], futures: list[asyncio.Future[Result]]) -> None:
        try:
            results = await self._call(items)
        except Exception as exc:  # noqa: BLE001 - any failure means "not durable"
            for future in futures:
                if not future.done():
                    future.set_exception(BatchFailed(str(exc) or type(exc).__name__))
        else:
            for future, result in zip(futures, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._in_flight = None
            if self._items:
                self._send()
