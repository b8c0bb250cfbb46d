"""The shift notice monitor against real Postgres, in-process, on a database of its own.

Time is a FakeClock moved by hand. The channel actors are not running here: what the
monitor plans stays in the outbox to be looked at, and the nudges it sends are recorded.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import orjson
import pytest

from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.settings import Settings
from tocsin.actors.shift_notices import ShiftNoticeMonitor
from tocsin.actors.store import handoffs, schedules, users

START = datetime(2031, 3, 3, 8, 0, tzinfo=timezone.utc)


class Nudges:
    def __init__(self) -> None:
        self.channels: list[str] = []

    def nudge(self, channels: Iterable[str]) -> None:
        self.channels += channels


@pytest.fixture
async def conn(own_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(own_database)
    await connection.execute("TRUNCATE users, schedules, escalation_policies, notifications CASCADE")
    yield connection
    await connection.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def person(conn: asyncpg.Connection, name: str, notices: bool = True, lead: int = 30) -> dict[str, Any]:
    user = await users.create_user(conn, name, f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com", "Europe/Berlin",
                                   "responder")
    method = await users.create_contact_method(conn, user["id"], "webhook", f"https://hooks.example.com/{name}",
                                               "", True)
    await users.create_rule(conn, user["id"], method["id"], "high", 0)
    if notices:
        await users.set_shift_notices(conn, user["id"], method["id"], lead)
    return {**user, "method_id": method["id"]}


async def a_schedule(conn: asyncpg.Connection, participant: str, **handoff: Any) -> dict[str, Any]:
    """Nobody on call by its layer until far ahead: the overrides make the handoffs."""
    far = (START + timedelta(days=300)).isoformat()
    layer = {"name": "l", "priority": 0, "restriction": None, "rotation": {
        "participants": [participant], "start": far, "shift_length": 1, "unit": "days", "handoff": "09:00"}}
    return await schedules.create_schedule(conn, "Primary", "", "Europe/Berlin", [layer],
                                           schedules.Handoffs(**handoff))


async def outbox(conn: asyncpg.Connection) -> list[tuple[str, str, str, datetime]]:
    rows = await conn.fetch(
        "SELECT u.name, n.kind, n.status, n.send_at, n.message FROM notifications n JOIN users u ON u.id = n.user_id"
        " ORDER BY n.send_at, n.id")
    return [(r["name"], r["kind"], r["status"], r["send_at"]) for r in rows]


def monitor(url: str, clock: FakeClock, nudges: Nudges | None = None) -> ShiftNoticeMonitor:
    return ShiftNoticeMonitor(Settings(), url, clock=clock, background=False, nudger=nudges or Nudges())  # type: ignore[arg-type]


async def test_notices_are_planned_once_across_rounds_and_restarts(
    conn: asyncpg.Connection, own_database: str, clock: FakeClock
) -> None:
    ann = await person(conn, "Ann")
    await person(conn, "Quiet", notices=False)
    schedule = await a_schedule(conn, ann["id"])
    await schedules.create_override(conn, schedule["id"], ann["id"], START + timedelta(minutes=40),
                                    START + timedelta(hours=3))
    first = monitor(own_database, clock)
    try:
        assert (await first.run_once())["made"] == 2  # 30 min ahead, and at the start; the end is past the hour
        clock.advance(90)
        assert (await first.run_once(replan=True))["made"] == 0
    finally:
        await first.close()
    clock.advance(2 * 3600 + 60)  # the end is within the hour now
    restarted, beside = monitor(own_database, clock), monitor(own_database, clock)
    try:
        assert (await restarted.run_once())["made"] == 1
        assert (await beside.run_once())["made"] == 0
    finally:
        await restarted.close()
        await beside.close()

    assert await outbox(conn) == [
        ("Ann", "shift_notice", "pending", START + timedelta(minutes=10)),
        ("Ann", "shift_notice", "pending", START + timedelta(minutes=40)),
        ("Ann", "shift_notice", "pending", START + timedelta(hours=3)),
    ]
    texts = [r["message"] for r in await conn.fetch("SELECT message FROM notifications ORDER BY send_at")]
    assert texts[0] == "Your on-call shift for Primary starts at 09:40 Europe/Berlin (in 30 min)."


async def test_a_changed_override_cancels_what_no_longer_holds_and_plans_anew(
    conn: asyncpg.Connection, own_database: str, clock: FakeClock
) -> None:
    ann = await person(conn, "Ann", lead=0)
    schedule = await a_schedule(conn, ann["id"])
    override = await schedules.create_override(conn, schedule["id"], ann["id"], START + timedelta(minutes=20),
                                               START + timedelta(minutes=50))
    nudges = Nudges()
    watcher = monitor(own_database, clock, nudges)
    try:
        await watcher.run_once()
        await schedules.delete_override(conn, schedule["id"], override["id"])
        await schedules.create_override(conn, schedule["id"], ann["id"], START + timedelta(minutes=30),
                                        START + timedelta(minutes=50))
        changed = await watcher.run_once()  # the epoch moved: planned again at once
        await users.set_shift_notices(conn, ann["id"], None, 30)  # Ann wants no more notices
        stopped = await watcher.run_once()
    finally:
        await watcher.close()

    assert (changed["made"], changed["cancelled"]) == (1, 1)  # the start moved; the end holds
    assert stopped["cancelled"] == 2
    assert await outbox(conn) == [
        ("Ann", "shift_notice", "cancelled", START + timedelta(minutes=20)),
        ("Ann", "shift_notice", "cancelled", START + timedelta(minutes=30)),
        ("Ann", "shift_notice", "cancelled", START + timedelta(minutes=50)),
    ]
    assert nudges.channels == []  # nothing was due yet


def token_of(message: str) -> str:
    found = re.search(r"/api/v1/checks/([\w-]+)", message)
    assert found is not None, message
    return found.group(1)


async def test_a_check_not_acknowledged_by_the_start_is_told_to_the_owner_and_an_acknowledged_one_to_nobody(
    conn: asyncpg.Connection, own_database: str, clock: FakeClock
) -> None:
    ann, bob, owner = await person(conn, "Ann", False), await person(conn, "Bob", False), await person(conn, "Olga")
    schedule = await a_schedule(conn, ann["id"], owner_id=owner["id"], reachability_check=True, check_lead_minutes=60)
    await schedules.create_override(conn, schedule["id"], ann["id"], START + timedelta(minutes=30),
                                    START + timedelta(minutes=40))
    await schedules.create_override(conn, schedule["id"], bob["id"], START + timedelta(minutes=40),
                                    START + timedelta(minutes=50))
    nudges = Nudges()
    watcher = monitor(own_database, clock, nudges)
    try:
        await watcher.run_once()
        pages = {r["name"]: r["message"] for r in await conn.fetch(
            "SELECT u.name, n.message FROM notifications n JOIN users u ON u.id = n.user_id"
            " WHERE n.kind = 'reachability_check'")}
        assert set(pages) == {"Ann", "Bob"} and nudges.channels == ["webhook"]  # both due already: sent now
        assert "Reachability check: your on-call shift for Primary starts at 09:40 Europe/Berlin" in pages["Bob"]
        acknowledged = await handoffs.acknowledge(conn, token_of(pages["Bob"]), START)
        assert acknowledged is not None and (acknowledged["before"], acknowledged["status"]) == (
            "waiting", "acknowledged")
        again = await handoffs.acknowledge(conn, token_of(pages["Bob"]), START)
        assert again is not None and again["before"] == "acknowledged"  # single use
        clock.advance(45 * 60)
        assert (await watcher.run_once())["missed"] == 1
        assert (await watcher.run_once())["missed"] == 0
    finally:
        await watcher.close()

    checks = {c["user_name"]: c for c in await handoffs.list_checks(conn, schedule["id"], 10)}
    assert (checks["Ann"]["status"], checks["Ann"]["told"]) == ("missed", [owner["id"]])
    assert (checks["Bob"]["status"], checks["Bob"]["told"]) == ("acknowledged", [])
    told = await conn.fetch("SELECT u.name, n.message FROM notifications n JOIN users u ON u.id = n.user_id"
                            " WHERE n.kind = 'shift_notice'")
    assert [(r["name"], r["message"]) for r in told] == [("Olga", (
        "Ann did not confirm the reachability check for their on-call shift for Primary, which started at"
        " 09:30 Europe/Berlin."))]


async def test_without_an_owner_the_next_level_of_the_policy_paging_the_schedule_is_told(
    conn: asyncpg.Connection, own_database: str, clock: FakeClock
) -> None:
    ann, lead = await person(conn, "Ann", False), await person(conn, "Lena", False)
    schedule = await a_schedule(conn, ann["id"], reachability_check=True)
    levels = [{"delay_minutes": 5, "targets": [{"type": "schedule", "id": schedule["id"]}]},
              {"delay_minutes": 5, "targets": [{"type": "user", "id": lead["id"]}]}]
    await conn.execute("INSERT INTO escalation_policies (id, name, levels) VALUES ($1, 'p', $2::jsonb)",
                       str(uuid.uuid4()), orjson.dumps(levels).decode())
    await schedules.create_override(conn, schedule["id"], ann["id"], START + timedelta(minutes=5),
                                    START + timedelta(minutes=40))
    watcher = monitor(own_database, clock)
    try:
        await watcher.run_once()
        clock.advance(6 * 60)
        await watcher.run_once()
    finally:
        await watcher.close()

    [check] = await handoffs.list_checks(conn, schedule["id"], 10)
    assert (check["status"], check["told"]) == ("missed", [lead["id"]])


async def test_deleting_a_schedule_cancels_what_it_planned(
    conn: asyncpg.Connection, own_database: str, clock: FakeClock
) -> None:
    ann = await person(conn, "Ann")
    schedule = await a_schedule(conn, ann["id"], reachability_check=True)
    await schedules.create_override(conn, schedule["id"], ann["id"], START + timedelta(minutes=40),
                                    START + timedelta(minutes=50))
    watcher = monitor(own_database, clock)
    try:
        await watcher.run_once()
    finally:
        await watcher.close()

    assert await schedules.delete_schedule(conn, schedule["id"])
    statuses = await conn.fetch("SELECT kind, status FROM notifications ORDER BY kind")
    assert {(r["kind"], r["status"]) for r in statuses} == {
        ("shift_notice", "cancelled"), ("reachability_check", "cancelled")}
