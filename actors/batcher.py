"""Micro-batching toward one shard: many events per Ray call, a few calls in flight.

Events wait at most `max_delay` (or until `max_items` are queued) before a call goes out.
While `max_in_flight` calls are out, the next batch fills up and goes out the moment one
returns: the busier the gateway, the larger the batches, with no extra waiting.

Calls in flight together may be applied in any order. That only reorders requests that
were themselves in flight together, which no sender can order either; a sender that
waits for its answer before sending again keeps its order.
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
        max_in_flight: int = 1,
    ) -> None:
        self._call = call
        self._max_items = max_items
        self._max_delay_s = max_delay_s
        # What waits to go: each submission's items and the one future its results go to, so
        # that a request of hundreds of items costs one future, not hundreds.
        self._waiting: list[tuple[list[Item], asyncio.Future[list[Result]]]] = []
        self._queued = 0
        self._max_in_flight = max_in_flight
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()  # strong references until done

    async def submit(self, item: Item) -> Result:
        return (await self.submit_many([item]))[0]

    async def submit_many(self, items: list[Item]) -> list[Result]:
        """Items that arrived together go out together (in one call, up to `max_items`);
        one result each, or BatchFailed if any of them was not made durable."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Result]] = loop.create_future()
        self._waiting.append((items, future))
        self._queued += len(items)
        if self._queued >= self._max_items or self._max_delay_s == 0:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_delay_s, self._send)
        return await future

    @property
    def queued(self) -> int:
        return self._queued

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._in_flight >= self._max_in_flight or not self._waiting:
            return  # the next call to return sends what has queued
        waiting, self._waiting, self._queued = self._waiting, [], 0
        self._in_flight += 1
        task = asyncio.create_task(self._deliver(waiting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, waiting: list[tuple[list[Item], asyncio.Future[list[Result]]]]) -> None:
        items = waiting[0][0] if len(waiting) == 1 else [item for chunk, _ in waiting for item in chunk]
        try:
            results = await self._call(items)
            if len(results) != len(items):
                raise RuntimeError(f"{len(results)} results for {len(items)} items")
        except Exception as exc:  # noqa: BLE001 - any failure means "not durable"
            for _, future in waiting:
                if not future.done():
                    future.set_exception(BatchFailed(str(exc) or type(exc).__name__))
        else:
            start = 0
            for chunk, future in waiting:
                if not future.done():
                    future.set_result(results[start:start + len(chunk)])
                start += len(chunk)
        finally:
            self._in_flight -= 1
            if self._waiting:
                self._send()
