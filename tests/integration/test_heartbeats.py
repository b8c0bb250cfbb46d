"""Heartbeat deadlines against a real shard on Ray and real Postgres, the monitor in-process.

A monitor claims every due heartbeat of its database, and the test deployment runs a
monitor of its own on the run's database: this module has a database to itself, and a
shard of its own in a namespace of its own that owns every service in it. Time is a
FakeClock started at the wall clock and moved by hand, so the shard sees events received
after it started, as it does in production.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
import ray

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.domain.events import ServiceInput
from tocsin.actors.heartbeats import HeartbeatMonitor, Shards
from tocsin.actors.settings import Settings
from tocsin.actors.shard import ServiceShardActor, shard_options
from tocsin.actors.shard_router import ShardRouter
from tocsin.actors.store import heartbeats as store
from tocsin.serve.ingest.heartbeat import record_ping
from tests.conftest import statement_runner

NAMESPACE = "tocsin-heartbeats-integration"
INTERVAL_S, GRACE_S = 60, 30


@pytest.fixture(scope="module")
def shard(ray_address: str, own_database: str) -> Iterator[Any]:
    """Shard 0 of 1: it owns every service of this module's database."""
    handle = ServiceShardActor.options(**shard_options(0, NAMESPACE)).remote(0, own_database, None, 1)
    ray.get(handle.stats.remote(), timeout=60)
    yield handle
    ray.kill(handle, no_restart=True)


@pytest.fixture
def router(shard: Any) -> Shards:
    return ShardRouter(namespace=NAMESPACE, shard_count=1, max_items=100, max_delay_s=0, max_in_flight=1,
                       timeout_s=30)


@pytest.fixture
def db(own_database: str) -> Callable[..., Any]:
    """db("fetch", sql, *args) against this module's database."""
    return statement_runner(own_database)


@pytest.fixture
async def conn(own_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(own_database)
    yield connection
    await connection.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(timezone.utc))


@pytest.fixture
def monitors(own_database: str, clock: FakeClock, router: Shards) -> Callable[..., HeartbeatMonitor]:
    """Builds monitors in the test's event loop, closed by the test (a monitor owns a pool)."""

    def make(shards: Shards | None = None) -> HeartbeatMonitor:
        return HeartbeatMonitor(Settings(), own_database, clock=clock, shards=shards or router, background=False)

    return make


@pytest.fixture
async def beat(conn: asyncpg.Connection) -> AsyncIterator[dict[str, Any]]:
    """A heartbeat on a service of its own, both gone after the test: monitors claim every
    due heartbeat, so none may be left to fall due in the next test."""
    service_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO services (id, name) VALUES ($1, 'backups')", service_id)
    yield await store.create(conn, service_id, "nightly-backup", INTERVAL_S, GRACE_S)
    await conn.execute("DELETE FROM services WHERE id = $1", service_id)


def incidents(db: Callable[..., Any], beat: dict[str, Any]) -> list[dict[str, Any]]:
    rows = db("fetch", "SELECT id, status, summary, severity, source, occurrences, dedup_key FROM incidents"
                       " WHERE service_id = $1::uuid ORDER BY id", beat["service_id"])
    return [dict(r) for r in rows]


def state(db: Callable[..., Any], beat: dict[str, Any]) -> dict[str, Any]:
    return dict(db("fetchrow", "SELECT state, last_ping_at, expires_at FROM heartbeats WHERE id = $1::uuid",
                   beat["id"]))


class DiesAfterTheShard:
    """The shard makes the trigger durable, then the monitor dies before recording that."""

    def __init__(self, shards: Shards) -> None:
        self.shards = shards

    async def submit(self, item: ServiceInput) -> Reply:
        await self.shards.submit(item)
        raise ConnectionError("the monitor died before it recorded the answer")


class Unavailable:
    async def submit(self, item: ServiceInput) -> Reply:
        raise BatchFailed("the shard is restarting")


class Held:
    """Forwards to the shards once released, so a test can act while a call is in flight."""

    def __init__(self, shards: Shards) -> None:
        self.shards = shards
        self.arrived, self.release = asyncio.Event(), asyncio.Event()

    async def submit(self, item: ServiceInput) -> Reply:
        self.arrived.set()
        await self.release.wait()
        return await self.shards.submit(item)


async def test_a_missed_deadline_opens_one_incident_and_the_next_ping_resolves_it(
    beat: dict[str, Any], conn: asyncpg.Connection, db: Callable[..., Any], clock: FakeClock, router: Shards,
    monitors: Callable[..., HeartbeatMonitor],
) -> None:
    first, second = monitors(), monitors()
    try:
        assert await first.run_once() == 0  # inactive: it never pinged, so nothing is late
        pinged_at = clock.now()
        assert await record_ping(conn, router, beat["key"], pinged_at) == pinged_at + timedelta(seconds=90)
        clock.advance(INTERVAL_S + GRACE_S - 1)
        assert await first.run_once() == 0 and state(db, beat)["state"] == "healthy"

        clock.advance(1)
        assert sorted(await asyncio.gather(first.run_once(), second.run_once())) == [0, 1]
        assert await first.run_once() == 0  # raised once: it is unhealthy now, not due

        [incident] = incidents(db, beat)
        assert (incident["status"], incident["severity"], incident["source"], incident["occurrences"]) == (
            "triggered", "critical", "heartbeat", 1)
        assert incident["dedup_key"] == f"heartbeat:{beat['id']}"
        assert incident["summary"] == f"Heartbeat nightly-backup missed: no ping since {pinged_at:%Y-%m-%d %H:%M:%S} UTC"
        assert state(db, beat)["state"] == "unhealthy"

        clock.advance(300)
        ping_at = clock.now()
        assert await record_ping(conn, router, beat["key"], ping_at) == ping_at + timedelta(seconds=90)
        assert [i["status"] for i in incidents(db, beat)] == ["resolved"]
        assert state(db, beat) == {"state": "healthy", "last_ping_at": ping_at,
                                   "expires_at": ping_at + timedelta(seconds=90)}
        assert await first.run_once() == 0
    finally:
        await first.close()
        await second.close()


async def test_a_monitor_recreated_after_the_shard_answered_opens_no_second_incident(
    beat: dict[str, Any], conn: asyncpg.Connection, db: Callable[..., Any], clock: FakeClock, router: Shards,
    monitors: Callable[..., HeartbeatMonitor],
) -> None:
    await record_ping(conn, router, beat["key"], clock.now())
    clock.advance(INTERVAL_S + GRACE_S + 5)
    dying = monitors(DiesAfterTheShard(router))
    assert await dying.run_once() == 0
    await dying.close()
    assert [i["status"] for i in incidents(db, beat)] == ["triggered"]  # durable in the shard
    assert state(db, beat)["state"] == "healthy"  # but never recorded: still due

    clock.advance(10)
    recreated = monitors()
    try:
        assert await recreated.run_once() == 1
        assert await recreated.run_once() == 0
    finally:
        await recreated.close()
    [incident] = incidents(db, beat)
    assert incident["occurrences"] == 1
    assert db("fetchval", "SELECT count(*) FROM alerts WHERE dedup_key = $1", f"heartbeat:{beat['id']}") == 1
    assert state(db, beat)["state"] == "unhealthy"


async def test_a_deadline_that_passed_while_no_monitor_ran_is_raised_by_the_next_one(
    beat: dict[str, Any], conn: asyncpg.Connection, db: Callable[..., Any], clock: FakeClock, router: Shards,
    monitors: Callable[..., HeartbeatMonitor],
) -> None:
    await record_ping(conn, router, beat["key"], clock.now())
    clock.advance(3600)  # an hour with no monitor, and no ping
    monitor = monitors()
    try:
        assert await monitor.run_once() == 1
    finally:
        await monitor.close()
    assert [i["status"] for i in incidents(db, beat)] == ["triggered"]


async def test_an_unavailable_shard_leaves_the_deadline_due_and_the_ping_refused(
    beat: dict[str, Any], conn: asyncpg.Connection, db: Callable[..., Any], clock: FakeClock, router: Shards,
    monitors: Callable[..., HeartbeatMonitor],
) -> None:
    await record_ping(conn, router, beat["key"], clock.now())
    clock.advance(INTERVAL_S + GRACE_S)
    down, up = monitors(Unavailable()), monitors()
    try:
        assert await down.run_once() == 0
        assert incidents(db, beat) == [] and state(db, beat)["state"] == "healthy"
        assert await up.run_once() == 1
    finally:
        await down.close()
        await up.close()

    before = state(db, beat)
    with pytest.raises(BatchFailed):
        await record_ping(conn, Unavailable(), beat["key"], clock.advance(5))
    assert state(db, beat) == before  # still unhealthy: the next ping resolves
    assert [i["status"] for i in incidents(db, beat)] == ["triggered"]
    await record_ping(conn, router, beat["key"], clock.advance(5))
    assert [i["status"] for i in incidents(db, beat)] == ["resolved"]
    assert state(db, beat)["state"] == "healthy"


async def test_a_ping_while_the_monitor_raises_the_deadline_waits_and_resolves_it(
    beat: dict[str, Any], conn: asyncpg.Connection, own_database: str, db: Callable[..., Any], clock: FakeClock, router: Shards,
    monitors: Callable[..., HeartbeatMonitor],
) -> None:
    await record_ping(conn, router, beat["key"], clock.now())
    clock.advance(INTERVAL_S + GRACE_S)
    held = Held(router)
    monitor = monitors(held)
    other = await asyncpg.connect(own_database)
    try:
        raising = asyncio.create_task(monitor.run_once())
        await asyncio.wait_for(held.arrived.wait(), 30)
        pinging = asyncio.create_task(record_ping(other, router, beat["key"], clock.advance(1)))
        await asyncio.sleep(0.5)
        assert not pinging.done()  # the row is the monitor's until its trigger is durable
        held.release.set()
        assert await asyncio.wait_for(raising, 30) == 1
        await asyncio.wait_for(pinging, 30)
    finally:
        await other.close()
        await monitor.close()
    assert [i["status"] for i in incidents(db, beat)] == ["resolved"]
    assert state(db, beat)["state"] == "healthy"
