"""Escalation deadlines survive a shard restart: the next level is paged on time, nobody twice.

Business time runs 20x faster here (ScaledClock), so a one-minute escalation delay passes in
three seconds of wall time, in the shard and in the test alike.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
import ray

from tocsin.actors.domain.clock import ScaledClock
from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand
from tocsin.actors.ownership import shard_index
from tocsin.actors.shard import ServiceShardActor, shard_options
from tocsin.actors.store.outbox import claim_due, mark_sent
from tests.conftest import statement_runner

NAMESPACE = "tocsin-integration"
SPEED = 20.0
# A shard count far above any real one, so the test's shard owns its own service and,
# with near certainty, no service of another test.
SHARD_COUNT = 100_000


def make_user(db: Callable[..., Any], name: str, channel: str = "sms", address: str = "somewhere") -> str:
    """A person paged at once, on one verified contact method of `channel` at `address`."""
    user_id, method_id = str(uuid.uuid4()), str(uuid.uuid4())
    db("execute", "INSERT INTO users (id, name, email, calendar_token) VALUES ($1, $2, $3, 'feed')",
       user_id, name, f"{name}.{user_id[:8]}@example.com")
    db("execute", "INSERT INTO contact_methods (id, user_id, kind, address, verified)"
                  " VALUES ($1, $2, $3, $4, true)", method_id, user_id, channel, address)
    db("execute", "INSERT INTO notification_rules (id, user_id, contact_method_id, urgency, delay_minutes)"
                  " VALUES ($1, $2, $3, 'high', 0)", str(uuid.uuid4()), user_id, method_id)
    return user_id


def make_escalating_service(db: Callable[..., Any], *levels: str) -> str:
    """A service whose policy pages each user in turn, one minute apart."""
    policy_id, service_id = str(uuid.uuid4()), str(uuid.uuid4())
    doc = [{"delay_minutes": 1, "targets": [{"type": "user", "id": user}]} for user in levels]
    db("execute", "INSERT INTO escalation_policies (id, name, levels) VALUES ($1, 'two levels', $2::jsonb)",
       policy_id, orjson.dumps(doc).decode())
    db("execute", "INSERT INTO services (id, name, escalation_policy_id) VALUES ($1, 'escalating', $2)",
       service_id, policy_id)
    return service_id


def shard_for(service_id: str, database_url: str, clock: ScaledClock) -> Any:
    """A shard of its own that owns `service_id` (and recovers its deadlines when restarted)."""
    index = shard_index(service_id, SHARD_COUNT)
    return ServiceShardActor.options(**shard_options(index, NAMESPACE)).remote(index, database_url, clock, SHARD_COUNT)


def notifications(db: Callable[..., Any], service_id: str) -> list[dict[str, Any]]:
    rows = db("fetch", "SELECT user_id::text, level, page, send_at, created_at, status, rank FROM notifications"
                       " WHERE service_id = $1::uuid ORDER BY page", service_id)
    return [dict(r) for r in rows]


def kill_and_await_restart(shard: Any, seconds: float = 60) -> None:
    """Kill the shard's process and return once Ray has restarted it. ray.kill is
    asynchronous: a call sent right after it may still reach the old process, which commits
    it, and Ray's retry on the new one then rightly answers "duplicate"."""
    pid = ray.get(shard.stats.remote(), timeout=seconds)["pid"]
    ray.kill(shard, no_restart=False)
    deadline = time.monotonic() + seconds
    while ray.get(shard.stats.remote(), timeout=seconds)["pid"] == pid:
        assert time.monotonic() < deadline, "the shard did not restart"
        time.sleep(0.1)


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_shard_killed_between_levels_pages_the_next_level_on_time_and_nobody_twice(
    ray_address: str, database_url: str, db: Callable[..., Any]
) -> None:
    alice, bob = make_user(db, "alice"), make_user(db, "bob")
    service_id = make_escalating_service(db, alice, bob)
    clock = ScaledClock(SPEED)
    shard = shard_for(service_id, database_url, clock)
    try:
        opened_at = clock.now()
        [reply] = ray.get(shard.apply.remote([AlertEvent(
            event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key="db-down",
            action=Action.TRIGGER, received_at=opened_at, summary="db1 is down",
        )]), timeout=30)
        assert reply.outcome == "opened"
        assert [(n["user_id"], n["level"]) for n in notifications(db, service_id)] == [(alice, 0)]
        first_pid = ray.get(shard.stats.remote())["pid"]

        ray.kill(shard, no_restart=False)  # between level 1 and level 2

        assert wait_for(lambda: len(notifications(db, service_id)) >= 2, 60 / SPEED + 20), "level 2 never paged"
        assert ray.get(shard.stats.remote(), timeout=30)["pid"] != first_pid  # it really restarted
        level_two_due = opened_at + timedelta(minutes=1)
        paged = notifications(db, service_id)
        assert [(n["user_id"], n["level"], n["page"]) for n in paged] == [(alice, 0, 1), (bob, 1, 2)]
        assert [n["rank"] for n in paged] == [0, 0]  # each the first of its page: sent ahead of others
        assert paged[1]["send_at"] == level_two_due
        # Never early; late by about the restart, which a loaded machine stretches to seconds (the
        # level falls due 3 s after the kill): a deadline lost in the restart would page only when
        # some later sweep found it, if ever.
        late = (paged[1]["created_at"] - level_two_due).total_seconds() / SPEED  # in wall seconds
        assert 0 <= late < 10, f"level 2 paged {late:.2f} s late"

        time.sleep(2.0)  # past where a third page would be (the walk has ended): nothing more
        assert len(notifications(db, service_id)) == 2
        log = db("fetch", "SELECT kind, message FROM incident_log l JOIN incidents i ON i.id = l.incident_id"
                          " WHERE i.service_id = $1::uuid ORDER BY l.id", service_id)
        assert [r["kind"] for r in log] == ["triggered", "paged", "paged"]
        assert "level 2" in log[2]["message"] and "bob" in log[2]["message"]
        assert db("fetchval", "SELECT next_escalation_at FROM incidents WHERE service_id = $1::uuid",
                  service_id) is None
    finally:
        ray.kill(shard, no_restart=True)


class RecordingSender:
    """Stands in for a channel actor: claims due rows the way it will, and records them."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.sent: list[dict[str, Any]] = []

    def run_once(self, channel: str, now: datetime) -> list[dict[str, Any]]:
        async def go() -> list[dict[str, Any]]:
            conn = await asyncpg.connect(self.database_url)
            try:
                async with conn.transaction():
                    rows = await claim_due(conn, channel, now)
                await mark_sent(conn, [r["id"] for r in rows], now)
                return rows
            finally:
                await conn.close()

        rows = asyncio.run(go())
        self.sent += rows
        return rows


def test_acknowledging_cancels_pending_notifications_and_senders_claim_each_row_once(
    ray_address: str, own_database: str
) -> None:
    # A database of its own: the sender claims every due row of its channel.
    database_url, db = own_database, statement_runner(own_database)
    alice, bob = make_user(db, "alice", "push"), make_user(db, "bob", "push")
    later_method = str(uuid.uuid4())
    db("execute", "INSERT INTO contact_methods (id, user_id, kind, address, verified)"
                  " VALUES ($1, $2, 'webhook', 'https://hooks.example.com/alice', true)", later_method, alice)
    db("execute", "INSERT INTO notification_rules (id, user_id, contact_method_id, urgency, delay_minutes)"
                  " VALUES ($1, $2, $3, 'high', 5)", str(uuid.uuid4()), alice, later_method)
    service_id = make_escalating_service(db, alice, bob)
    clock = ScaledClock(1.0)
    shard = shard_for(service_id, database_url, clock)
    try:
        def event(action: Action) -> AlertEvent:
            return AlertEvent(event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None,
                              dedup_key="disk", action=action, received_at=clock.now(), summary="disk full")

        ray.get(shard.apply.remote([event(Action.TRIGGER)]), timeout=30)
        sender = RecordingSender(database_url)
        claimed = sender.run_once("push", clock.now())
        assert [(r["user_id"], r["message"]) for r in claimed] == [(alice, "disk full")]
        assert sender.run_once("push", clock.now()) == []  # claimed once, sent once
        assert sender.run_once("webhook", clock.now()) == []  # due in 5 minutes, not now

        ray.get(shard.apply.remote([event(Action.ACKNOWLEDGE)]), timeout=30)
        rows = db("fetch", "SELECT channel, status FROM notifications WHERE service_id = $1::uuid ORDER BY id",
                  service_id)
        assert [(r["channel"], r["status"]) for r in rows] == [("push", "sent"), ("webhook", "cancelled")]
        # Even once its time has come, a cancelled row is never claimed.
        assert sender.run_once("webhook", clock.now() + timedelta(minutes=10)) == []
    finally:
        ray.kill(shard, no_restart=True)


def test_a_snooze_running_out_retriggers_and_pages_level_one_again(
    ray_address: str, database_url: str, db: Callable[..., Any]
) -> None:
    alice, bob = make_user(db, "alice"), make_user(db, "bob")
    service_id = make_escalating_service(db, alice, bob)
    clock = ScaledClock(SPEED)
    shard = shard_for(service_id, database_url, clock)
    try:
        [opened] = ray.get(shard.apply.remote([AlertEvent(
            event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key="queue-full",
            action=Action.TRIGGER, received_at=clock.now(), summary="queue full",
        )]), timeout=30)
        snoozed_at = clock.now()
        [reply] = ray.get(shard.apply.remote([IncidentCommand(
            command_id=str(uuid.uuid4()), service_id=service_id, incident_id=opened.incident_id,
            action=Command.SNOOZE, actor="api:admin", received_at=snoozed_at, minutes=2,
        )]), timeout=30)
        assert (reply.outcome, reply.status) == ("snoozed", "acknowledged")

        # Level 2 would have been due after one minute: the snooze holds it back.
        assert wait_for(lambda: len(notifications(db, service_id)) >= 2, 120 / SPEED + 20), "never re-paged"
        paged = notifications(db, service_id)
        assert [(n["user_id"], n["level"], n["page"]) for n in paged] == [(alice, 0, 1), (alice, 0, 2)]
        assert paged[1]["send_at"] == snoozed_at + timedelta(minutes=2)
        status = db("fetchval", "SELECT status FROM incidents WHERE id = $1", opened.incident_id)
        assert status == "triggered"
    finally:
        ray.kill(shard, no_restart=True)
