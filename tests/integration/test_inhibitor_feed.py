"""The gateway's Inhibitor fed by a real shard through Redis and Postgres: an incident the shard
opens inhibits its targets soon after, until it resolves; incidents already open when the
Inhibitor starts, or when its rules change, are loaded. Waits are bounded; none is timed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
import redis.asyncio as redis

from tocsin.actors.bus import BusAddress, open_bus
from tocsin.actors.domain.clock import SystemClock
from tocsin.actors.domain.events import Action, AlertEvent
from tocsin.actors.domain.rules import AlertView, compile_inhibit_rules, view_of
from tocsin.actors.shard import ServiceShard
from tocsin.actors.store.database import Database
from tocsin.serve.inhibitor import Inhibitor
from tests.conftest import IN_CI

REDIS_URL = "redis://127.0.0.1:6379/12"
WAIT_S = 15.0


def rules_for(name: str) -> Any:
    return compile_inhibit_rules([{
        "id": name, "source": {"field": "labels.alertname", "op": "equals", "value": "DatacenterDown"},
        "target": {"field": "labels.alertname", "op": "equals", "value": "HostUnreachable"}, "equal": ["labels.dc"],
    }])


class World:
    """A service with an Alertmanager integration, an in-process shard publishing on a Redis
    stream of its own, and the Inhibitor following that stream."""

    def __init__(self, database_url: str, db: Callable[..., Any]) -> None:
        self.clock = SystemClock()
        self.service_id, self.integration_id = str(uuid.uuid4()), str(uuid.uuid4())
        db("execute", "INSERT INTO services (id, name) VALUES ($1, 'network')", self.service_id)
        db("execute", "INSERT INTO integrations (id, service_id, type, name, key) VALUES ($1, $2, 'alertmanager',"
                      " 'am', $3)", self.integration_id, self.service_id, uuid.uuid4().hex)
        self.dc = f"dc-{uuid.uuid4().hex[:8]}"  # no other test's incident shares it
        self.address = BusAddress(f"tocsin-test-{uuid.uuid4().hex[:8]}", REDIS_URL)
        self.shard = ServiceShard(0, database_url, self.clock, bus=self.address)
        self.database = Database(database_url, max_size=2)
        self.bus = open_bus(self.address)
        self.inhibitor = Inhibitor(self.database, self.bus, rules_for("dc-down"), self.clock.now)

    async def send(self, alertname: str, action: Action = Action.TRIGGER) -> Any:
        payload = {"labels": {"alertname": alertname, "dc": self.dc}, "status": "firing"}
        [reply] = await self.shard.apply([AlertEvent(
            event_id=str(uuid.uuid4()), service_id=self.service_id, integration_id=self.integration_id,
            dedup_key=f"{alertname}-{self.dc}", action=action, received_at=self.clock.now(),
            summary=f"{alertname} in {self.dc}", payload=orjson.dumps(payload).decode(),
        )])
        return reply

    def host_unreachable(self) -> AlertView:
        return view_of("alertmanager", {"labels": {"alertname": "HostUnreachable", "dc": self.dc}})

    def inhibited(self) -> str | None:
        return self.inhibitor.inhibited_by(self.host_unreachable(), self.clock.now())

    async def close(self) -> None:
        await self.inhibitor.close()
        await self.bus.close()
        await self.shard.close()
        await self.database.close()


@pytest.fixture
async def world(database_url: str, db: Callable[..., Any]) -> AsyncIterator[World]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        await client.aclose()
        if IN_CI:
            pytest.fail("CI needs Redis on 127.0.0.1:6379; .ci/run starts it")
        pytest.skip("no Redis on 127.0.0.1:6379")
    made = World(database_url, db)
    yield made
    await made.close()
    await client.delete(made.address.stream_key)
    await client.aclose()


async def until(check: Callable[[], bool]) -> bool:
    """Whether `check` holds within WAIT_S (the feed is asynchronous)."""
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), WAIT_S)
    except asyncio.TimeoutError:
        return False
    return True


async def test_an_incident_the_shard_opens_inhibits_its_targets_until_it_resolves(world: World) -> None:
    await world.inhibitor.start()
    assert world.inhibited() is None

    assert (await world.send("DatacenterDown")).outcome == "opened"
    assert await until(lambda: world.inhibited() == "dc-down"), "the opening never reached the inhibitor"

    assert (await world.send("DatacenterDown", Action.RESOLVE)).outcome == "resolved"
    assert await until(lambda: world.inhibited() is None), "the resolve never reached the inhibitor"


async def test_incidents_open_before_the_start_or_a_change_of_rules_are_loaded(world: World) -> None:
    await world.send("DatacenterDown")  # before the inhibitor starts: only Postgres knows

    await world.inhibitor.start()
    assert world.inhibited() == "dc-down" and world.inhibitor.sources >= 1

    await world.inhibitor.replace_rules(rules_for("dc-down-v2"))
    assert world.inhibited() == "dc-down-v2"

    await world.inhibitor.replace_rules(compile_inhibit_rules([]))
    assert world.inhibited() is None and world.inhibitor.sources == 0
