"""The event bus on a real Redis: ids, resuming, long-polling, and a reset for a reader whose
next entries were trimmed away (no Ray, no database)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from tocsin.actors.bus_types import BusEvent, parse_id
from tocsin.actors.redis_bus import RedisStreamBus
from tests.conftest import IN_CI

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
async def bus() -> AsyncIterator[RedisStreamBus]:
    key = f"tocsin-test-{uuid.uuid4().hex[:8]}:events"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        await client.aclose()
        if IN_CI:
            pytest.fail("CI needs Redis on 127.0.0.1:6379; .ci/run starts it")
        pytest.skip("no Redis on 127.0.0.1:6379")
    stream_bus = RedisStreamBus(REDIS_URL, key, capacity=10)
    yield stream_bus
    await stream_bus.close()
    await client.delete(key)
    await client.aclose()


def events(count: int, service: str = "svc") -> list[BusEvent]:
    return [BusEvent("incident", service, f'{{"n": {n}}}') for n in range(count)]


async def test_an_empty_stream_has_a_tail_to_follow_from(bus: RedisStreamBus) -> None:
    start = await bus.tail()
    assert start == "0-0"
    nothing = await bus.read(start, block_s=0)
    assert nothing.events == [] and not nothing.reset

    ids = await bus.publish(events(3))
    found = await bus.read(start, block_s=0)
    assert [e.id for e in found.events] == ids and found.cursor == ids[-1]
    assert [e.data for e in found.events] == ['{"n": 0}', '{"n": 1}', '{"n": 2}']


async def test_a_reader_resumes_after_its_id_in_order(bus: RedisStreamBus) -> None:
    ids = await bus.publish(events(5))
    assert [parse_id(i) for i in ids] == sorted(parse_id(i) for i in ids)  # type: ignore[type-var]

    first = await bus.read(ids[0], block_s=0, limit=2)
    assert [e.id for e in first.events] == ids[1:3]
    rest = await bus.read(first.cursor, block_s=0)
    assert [e.id for e in rest.events] == ids[3:] and await bus.tail() == ids[-1]


async def test_a_blocking_read_returns_as_soon_as_something_is_published(bus: RedisStreamBus) -> None:
    await bus.publish(events(1))
    start = await bus.tail()
    waiting = asyncio.create_task(bus.read(start, block_s=10))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    ids = await bus.publish(events(1))
    found = await asyncio.wait_for(waiting, 5)
    assert [e.id for e in found.events] == ids


async def test_a_reader_whose_next_entries_were_trimmed_is_told_to_reset(bus: RedisStreamBus) -> None:
    ids = await bus.publish(events(50))
    ids += await bus.publish(events(400))  # far past the capacity: the oldest are trimmed

    behind = await bus.read(ids[0], block_s=0)
    assert behind.reset and behind.events == [] and behind.cursor == ids[-1]
    held = await bus.read(ids[-5], block_s=0)  # still held: no gap, no reset
    assert not held.reset and [e.id for e in held.events] == ids[-4:]


@pytest.mark.parametrize("unknown", ["99999999999999-0", "junk"])
async def test_an_id_this_stream_never_gave_is_answered_with_reset(bus: RedisStreamBus, unknown: str) -> None:
    ids = await bus.publish(events(2))
    found = await bus.read(unknown, block_s=0)
    assert found.reset and found.cursor == ids[-1]
