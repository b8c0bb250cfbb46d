"""The client half of the ServiceShards: ownership, handles and two batchers per shard, for
every process that hands inputs to them (the gateway, the e-mail listener, the heartbeat
monitor).

The alerts of a dedup key this router has not sent before may open an incident, which is
what pages someone: in a request of triggers only, they go in a call of their own
(`openings`), which does not wait behind the call of occurrences in flight to the same shard,
and the shard commits them beside that call's occurrences (see
`ServiceShard._openings_beside`). The request's other triggers go the usual way; it is
answered once both are durable. Each dedup key's inputs stay in one call, in order; a request
holding anything but triggers goes whole, in order, in one call.

Every source's inputs go this way, so this is where their text is made storable (U+0000
becomes U+FFFD: see `tocsin.actors.domain.storable`), once for all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

import ray

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent, ServiceInput
from tocsin.actors.domain.input_batch import InputBatch
from tocsin.actors.domain.reply_batch import ReplyBatch
from tocsin.actors.domain.storable import storable_input
from tocsin.actors.ownership import shard_index, shard_name
from tocsin.actors.settings import Settings
from tocsin.actors.batcher import Batcher
from tocsin.actors.sent_keys import SentKeys


class ShardRouter:
    def __init__(
        self,
        *,
        namespace: str,
        shard_count: int,
        max_items: int,
        max_delay_s: float,
        max_in_flight: int,
        timeout_s: float,
        openings_in_flight: int = 4,
    ) -> None:
        self._namespace = namespace
        self._count = shard_count
        self._timeout_s = timeout_s
        self._handles: dict[int, Any] = {}
        self._sent = SentKeys()

        def batchers(in_flight: int) -> list[Batcher[ServiceInput, Reply]]:
            return [
                Batcher[ServiceInput, Reply](
                    self._caller(i), max_items=max_items, max_delay_s=max_delay_s, max_in_flight=in_flight
                )
                for i in range(shard_count)
            ]

        self._batchers = batchers(max_in_flight)
        self._openings = batchers(openings_in_flight)

    @classmethod
    def for_settings(cls, settings: Settings) -> ShardRouter:
        """The router every sender uses: the deployment's shards, batched as configured."""
        return cls(
            namespace=settings.namespace,
            shard_count=settings.shards,
            max_items=settings.batch_max_events,
            max_delay_s=settings.batch_max_delay_ms / 1000,
            max_in_flight=settings.batch_max_in_flight,
            timeout_s=settings.shard_timeout_s,
            openings_in_flight=settings.batch_openings_in_flight,
        )

    async def submit(self, item: ServiceInput) -> Reply:
        """Resolves once the input is durable; raises BatchFailed when it is not."""
        return (await self._to_shard(shard_index(item.service_id, self._count), [storable_input(item)]))[0]

    async def submit_many(self, items: list[ServiceInput]) -> list[Reply]:
        """The inputs of one request, in order, each shard's share in one batch; raises
        BatchFailed unless every one of them is durable."""
        items = [storable_input(item) for item in items]
        services = {item.service_id for item in items}
        if len(services) == 1:  # most requests: one service's, without the grouping by shard
            return await self._to_shard(shard_index(services.pop(), self._count), items)
        by_shard: dict[int, list[int]] = {}
        for position, item in enumerate(items):
            by_shard.setdefault(shard_index(item.service_id, self._count), []).append(position)
        return await _gathered(items, by_shard.values(), *(
            self._to_shard(shard, [items[p] for p in positions]) for shard, positions in by_shard.items()
        ))

    async def _to_shard(self, index: int, items: list[ServiceInput]) -> list[Reply]:
        """One shard's share of a request: its openings in one call, the rest in another."""
        opening = self._opening_positions(items)
        if not opening:
            return await self._batchers[index].submit_many(items)
        if len(opening) == len(items):
            return await self._openings[index].submit_many(items)
        chosen = set(opening)
        rest = [p for p in range(len(items)) if p not in chosen]
        return await _gathered(items, (opening, rest), self._openings[index].submit_many([items[p] for p in opening]),
                               self._batchers[index].submit_many([items[p] for p in rest]))

    def _opening_positions(self, items: list[ServiceInput]) -> list[int]:
        """Where the alerts of dedup keys first sent here are, when every input is a trigger.
        Triggers of different keys commute (each opens its key's incident or adds to it) but
        for the shard's cap on unacknowledged incidents, whose openings stay in order here,
        and an occurrence lifting a suppression, as `ServiceShard._opening_first` accepts; a
        resolve or a command may change what a trigger does, so a request holding one keeps
        its order, in one call. The keys are remembered as sent in any case."""
        if not all(type(item) is AlertEvent and item.action is Action.TRIGGER for item in items):
            for item in items:
                if type(item) is AlertEvent:
                    self._sent.first((item.service_id, item.dedup_key))
            return []
        fresh: set[tuple[str, str]] = set()  # keys first sent in this request: all their alerts go ahead
        positions: list[int] = []
        for position, item in enumerate(items):
            key = (item.service_id, item.dedup_key)  # type: ignore[union-attr]
            if key in fresh or self._sent.first(key):
                fresh.add(key)
                positions.append(position)
        return positions

    async def stats(self, timeout_s: float = 2.0) -> list[dict[str, Any]]:
        """Every shard's stats; raises when one does not answer in time (not ready)."""
        each = await self.stats_of_each(timeout_s)
        missing = [i for i, stats in enumerate(each) if stats is None]
        if missing:
            raise TimeoutError(f"shards {missing} did not answer within {timeout_s} s")
        return [stats for stats in each if stats is not None]

    async def stats_of_each(self, timeout_s: float = 2.0) -> list[dict[str, Any] | None]:
        """Each shard's stats, by index; None for a shard that does not answer in time."""
        async def one(index: int) -> dict[str, Any] | None:
            try:
                stats: dict[str, Any] = await asyncio.wait_for((await self._handle(index)).stats.remote(), timeout_s)
                return stats
            except (asyncio.TimeoutError, ValueError, ray.exceptions.RayError):
                return None

        return list(await asyncio.gather(*(one(i) for i in range(self._count))))

    async def _handle(self, index: int) -> Any:
        handle = self._handles.get(index)
        if handle is None:
            # In a thread: Ray's lookup blocks its caller (half a second was seen here), and
            # every request of the gateway's event loop would stand still meanwhile.
            found = await asyncio.to_thread(ray.get_actor, shard_name(index), namespace=self._namespace)
            handle = self._handles.setdefault(index, found)
        return handle

    def _caller(self, index: int):  # type: ignore[no-untyped-def]
        async def call(items: list[ServiceInput]) -> list[Reply]:
            # Both ways as columns: pickled per batch, not per item.
            ref = (await self._handle(index)).apply_batch.remote(InputBatch.of(items))
            replies: ReplyBatch = await asyncio.wait_for(ref, self._timeout_s)
            return replies.replies()

        return call


async def _gathered(
    items: list[ServiceInput], positions: Iterable[list[int]], *calls: Awaitable[list[Reply]]
) -> list[Reply]:
    """The replies of `calls`, each answering the inputs at its `positions`, in the inputs' order."""
    replies: list[Reply | None] = [None] * len(items)
    for where, answers in zip(positions, await asyncio.gather(*calls)):
        for position, reply in zip(where, answers):
            replies[position] = reply
    return [r for r in replies if r is not None]
