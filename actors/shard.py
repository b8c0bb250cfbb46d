"""ServiceShard: the single writer for the services that hash to it.

Services and their incidents are virtual actors: plain objects activated from Postgres on
first touch, kept while they have open incidents, dropped when they have none.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import ray

from actors.domain.clock import Clock, SystemClock
from actors.domain.dedupe import Plan, Reply, ServiceIncidents
from actors.domain.events import ServiceInput
from actors.domain.incident import Outcome
from actors.ownership import shard_name
from actors.store import batch as store

log = logging.getLogger(__name__)

# A call Ray retries after a restart carries only inputs received before that restart, and
# its previous incarnation may have committed them: those are checked against the database.
# The margin covers a gateway clock running ahead of the shard's (NTP keeps nodes within
# milliseconds; on one machine it is the same clock). Later inputs skip the check.
RETRY_WINDOW = timedelta(seconds=2)


class ShardCommitError(RuntimeError):
    """The batch was not made durable; nothing of it is in memory either."""


class ServiceShard:
    """Applies alert events and incident commands, in batches, for the services it owns.

    Durability: every call's inputs are grouped with whatever else arrived meanwhile and
    written in one Postgres transaction; a call returns only after that commit, and memory
    adopts the changes only after it. A failed commit raises `ShardCommitError` and drops
    the services involved from memory, so they are reloaded from the database.
    Checkpoints: the rows are the state; after a restart each service is reactivated from
    its open incidents on first touch.
    Idempotency: each input has an id; an input already stored is answered `duplicate`
    and applied no second time, so Ray's retries of a call across a restart are safe.
    Callers treat a failure or a timeout as "not durable" and retry later.
    """

    def __init__(self, index: int, database_url: str, clock: Clock | None = None) -> None:
        self._index = index
        self._database_url = database_url
        self._clock = clock or SystemClock()
        self._started_at = self._clock.now()
        self._services: dict[str, ServiceIncidents] = {}
        self._pending: list[tuple[list[ServiceInput], asyncio.Future[list[Reply]]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._stats = {"transactions": 0, "inputs": 0, "failed_transactions": 0, "last_commit_ms": 0.0}

    async def apply(self, inputs: list[ServiceInput]) -> list[Reply]:
        """Apply inputs in order; one reply per input once they are durable."""
        future: asyncio.Future[list[Reply]] = asyncio.get_running_loop().create_future()
        self._pending.append((inputs, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def stats(self) -> dict[str, Any]:
        return {
            "index": self._index,
            "name": shard_name(self._index),
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "started_at": self._started_at.isoformat(),
            "active_services": len(self._services),
            "open_incidents": sum(len(s) for s in self._services.values()),
            **self._stats,
        }

    # -- the one path every input takes -----------------------------------------------

    async def _drain(self) -> None:
        """Group commit: everything pending goes into one transaction, then the next group."""
        while self._pending:
            group, self._pending = self._pending, []
            inputs = [item for items, _ in group for item in items]
            try:
                replies = await self._apply_durably(inputs)
            except Exception as exc:  # noqa: BLE001 - every failure means "not durable"
                self._stats["failed_transactions"] += 1
                log.warning("shard %d: batch of %d not committed: %r", self._index, len(inputs), exc)
                error = ShardCommitError(f"batch not committed: {exc!r}")
                for _, future in group:
                    if not future.done():
                        future.set_exception(error)
                continue
            for items, future in group:
                if not future.done():
                    future.set_result([replies[item.input_id] for item in items])

    async def _apply_durably(self, inputs: list[ServiceInput]) -> dict[str, Reply]:
        replies: dict[str, Reply] = {}
        pool = await self._connect()
        started = time.perf_counter()
        async with pool.acquire() as conn:
            await self._activate(conn, {item.service_id for item in inputs})
            fresh = await self._skip_applied(conn, inputs, replies)
            plans = self._plan(fresh)
            try:
                if plans:  # all duplicates: nothing to write
                    await store.write_plans(conn, plans)  # one statement: atomic on its own
            except BaseException:
                for plan in plans:  # the commit may have happened after all: reload from rows
                    self._services.pop(plan.service_id, None)
                raise
        for plan in plans:
            self._adopt(plan, replies)
        self._stats["transactions"] += 1
        self._stats["inputs"] += len(inputs)
        self._stats["last_commit_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return replies

    async def _activate(self, conn: asyncpg.Connection, service_ids: set[str]) -> None:
        missing = [s for s in service_ids if s not in self._services]
        if not missing:
            return
        found = await store.load_open(conn, missing)
        for service_id in missing:
            self._services[service_id] = ServiceIncidents(service_id, found.get(service_id, ()))

    async def _skip_applied(
        self, conn: asyncpg.Connection, inputs: list[ServiceInput], replies: dict[str, Reply]
    ) -> list[ServiceInput]:
        """Drop inputs seen before: repeated within the group, or stored by an earlier call."""
        unique: dict[str, ServiceInput] = {}
        for item in inputs:
            if item.input_id in unique:
                replies[item.input_id] = Reply(Outcome.DUPLICATE.value)
            else:
                unique[item.input_id] = item
        cutoff = self._started_at + RETRY_WINDOW
        maybe_seen = [i for i, item in unique.items() if item.received_at < cutoff]
        for input_id in await store.already_applied(conn, maybe_seen) if maybe_seen else ():
            del unique[input_id]
            replies[input_id] = Reply(Outcome.DUPLICATE.value)
        return list(unique.values())

    def _plan(self, inputs: list[ServiceInput]) -> list[Plan]:
        by_service: dict[str, list[ServiceInput]] = defaultdict(list)
        for item in inputs:
            by_service[item.service_id].append(item)
        return [self._services[sid].plan(items) for sid, items in by_service.items()]

    def _adopt(self, plan: Plan, replies: dict[str, Reply]) -> None:
        service = self._services[plan.service_id]
        service.commit(plan)
        for applied in plan.applied:
            replies[applied.input.input_id] = Reply.of(applied)
        if not service:  # nothing open: passivate; the next touch reloads it
            del self._services[plan.service_id]

    async def _connect(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(self._database_url, min_size=1, max_size=2)
            return self._pool


ServiceShardActor: Any = ray.remote(ServiceShard)


def shard_options(index: int, namespace: str) -> dict[str, Any]:
    """Named, detached, restarted forever; Ray retries calls across a restart."""
    return {
        "name": shard_name(index),
        "namespace": namespace,
        "lifetime": "detached",
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": 10_000,
        "num_cpus": 0,
        "get_if_exists": True,
    }


