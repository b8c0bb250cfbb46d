"""Configuration as code against real Postgres: applying a generated document, then exporting
the deployment, plans nothing; an export applied to an empty deployment reproduces it, down to
who is on call on each schedule every 15 minutes over 14 days."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.config.check import check
from tocsin.actors.domain.config.document import (
    ContactMethod, Document, EscalationPolicy, Heartbeat, Integration, Layer, Level, MaintenanceWindow, Member,
    NotificationRule, Override, Restriction, Rotation, Router, Schedule, Service, Target, Team, User, Window,
)
from tocsin.actors.domain.config.plan import plan
from tocsin.actors.domain.schedule import on_call
from tocsin.actors.store.config_apply import apply
from tocsin.actors.store.config_read import read_document
from tocsin.actors.store.schedules import load_schedule
from tests.conftest import fresh_database

NAMES = st.sampled_from(["alpha", "bravo", "charlie", "delta", "echo"])
KEYS = st.text("0123456789abcdef", min_size=32, max_size=32)
INSTANTS = st.builds(
    lambda days, minutes, offset: datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=offset)))
    + timedelta(days=days, minutes=minutes),
    st.integers(0, 60), st.integers(0, 1439), st.integers(-5, 5))
WALL = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30]))


@st.composite
def documents(draw: st.DrawFn) -> Document:
    emails = draw(st.lists(st.sampled_from(["ada@example.com", "bob@example.com", "cy@example.com"]),
                           min_size=1, max_size=3, unique=True))
    users = tuple(User(
        name=email.split("@")[0].title(), email=email, time_zone=draw(st.sampled_from(["UTC", "Europe/Paris"])),
        role=draw(st.sampled_from(["viewer", "responder", "admin"])),
        contact_methods=draw(st.one_of(st.none(), st.lists(st.builds(
            ContactMethod, kind=st.just("sms"), address=st.sampled_from(["+14155550100", "+14155550101"]),
            label=st.sampled_from(["", "phone"]),
            notification_rules=st.lists(st.builds(NotificationRule, st.sampled_from(["high", "low"]),
                                                  st.sampled_from([0, 5])),
                                        max_size=2, unique=True).map(tuple)),
            max_size=2, unique_by=lambda m: m.address).map(tuple))),
    ) for email in emails)
    people = st.sampled_from(emails)
    team_names = draw(st.lists(NAMES, max_size=2, unique=True))
    teams = tuple(Team(name, draw(st.one_of(st.none(), st.lists(
        st.builds(Member, people, st.sampled_from(["viewer", "responder", "admin"])),
        max_size=2, unique_by=lambda m: m.user).map(tuple)))) for name in team_names)
    team = st.one_of(st.none(), st.sampled_from(team_names)) if team_names else st.none()
    schedules = tuple(Schedule(
        name=name, time_zone="Europe/Paris", team=draw(team),
        layers=tuple(Layer(
            name=draw(NAMES), priority=draw(st.integers(-2, 2)),
            rotation=Rotation(tuple(draw(st.lists(people, min_size=1, max_size=3))), draw(INSTANTS),
                              draw(st.integers(1, 3)), draw(st.sampled_from(["hours", "days", "weeks"])), draw(WALL)),
            restriction=draw(st.one_of(st.none(), st.builds(Restriction, st.lists(
                st.builds(Window, st.integers(0, 6), WALL, WALL), min_size=1, max_size=2).map(tuple)))),
        ) for _ in range(draw(st.integers(0, 2)))),
        overrides=draw(st.one_of(st.none(), st.lists(st.builds(
            lambda user, start, hours: Override(user, start, start + timedelta(hours=hours)),
            people, INSTANTS, st.integers(1, 48)), max_size=2).map(tuple))),
        owner=draw(st.one_of(st.none(), people)), reachability_check=draw(st.booleans()),
    ) for name in draw(st.lists(NAMES, max_size=2, unique=True)))
    targets = [Target(user=e) for e in emails] + [Target(schedule=s.name) for s in schedules]
    policies = tuple(EscalationPolicy(
        name=name, team=draw(team), repeat=draw(st.integers(0, 2)),
        levels=tuple(Level(tuple(draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2))),
                           draw(st.integers(1, 30))) for _ in range(draw(st.integers(1, 2)))),
    ) for name in draw(st.lists(NAMES, max_size=2, unique=True)))
    service_names = draw(st.lists(NAMES, max_size=3, unique=True))
    services = tuple(Service(
        name=name, team=draw(team), description=draw(st.sampled_from(["", "the shop"])),
        escalation_policy=draw(st.one_of(st.none(), st.sampled_from([p.name for p in policies])))
        if policies else None,
        urgency=draw(st.sampled_from(["high", "low", "severity"])),
        auto_resolve_minutes=draw(st.one_of(st.none(), st.integers(1, 600))),
        integrations=draw(st.one_of(st.none(), st.lists(st.builds(
            Integration, type=st.sampled_from(["pagerduty", "alertmanager", "generic"]), name=NAMES,
            key=st.one_of(st.none(), KEYS)), max_size=2, unique_by=lambda i: i.name).map(tuple))),
        heartbeats=draw(st.one_of(st.none(), st.lists(st.builds(
            Heartbeat, name=NAMES, interval_seconds=st.integers(10, 3600), grace_seconds=st.integers(0, 60),
            key=st.one_of(st.none(), KEYS)), max_size=2, unique_by=lambda h: h.name).map(tuple))),
        rules=draw(st.one_of(st.none(), st.lists(st.builds(
            lambda label, drop: {"name": label, "conditions": {"field": "summary", "op": "contains", "value": label},
                                 "actions": {"drop": True} if drop else {"severity": "warning"}},
            NAMES, st.booleans()), max_size=2).map(tuple))),
        maintenance_windows=draw(st.one_of(st.none(), st.lists(st.builds(
            lambda start, reason: MaintenanceWindow(start, start + timedelta(hours=2), reason),
            INSTANTS, st.sampled_from(["", "upgrade"])), max_size=1).map(tuple))),
    ) for name in service_names)
    routers = tuple(Router(
        name=f"router-{name}", format="alertmanager", key=draw(st.one_of(st.none(), KEYS)),
        catch_all={"route_to": draw(st.sampled_from(service_names))} if service_names and draw(st.booleans())
        else {"drop": True},
        rules=tuple({"conditions": {"field": "labels.team", "op": "equals", "value": s}, "route_to": s}
                    for s in draw(st.lists(st.sampled_from(service_names), max_size=2))) if service_names else (),
    ) for name in draw(st.lists(NAMES, max_size=1, unique=True)))
    return Document(teams=teams, users=users, schedules=schedules, escalation_policies=policies,
                    services=services, routers=routers)


def _distinct_keys(document: Document) -> bool:
    return not [p for p in check(document, Document()) if p.message.startswith("the same key")]


@pytest.fixture(scope="module")
def two_databases(postgres_admin_url: str) -> Iterator[tuple[str, str]]:
    with fresh_database(postgres_admin_url) as first, fresh_database(postgres_admin_url) as second:
        yield first, second


async def _applied(conn: asyncpg.Connection, desired: Document) -> Document:
    current = await read_document(conn)
    assert check(desired, current) == []
    await apply(conn, desired, plan(desired, current), "config test")
    return await read_document(conn)


async def _round_trip(urls: tuple[str, str], desired: Document) -> None:
    async with _rolled_back(urls[0]) as first, _rolled_back(urls[1]) as second:
        exported = await _applied(first, desired)
        assert plan(desired, exported).changes == ()  # applying the same file again changes nothing
        assert plan(exported, await read_document(first)).changes == ()  # export -> apply plans nothing
        copied = await _applied(second, exported)  # export from one, apply to an empty one
        assert plan(exported, copied).changes == ()
        assert plan(copied, exported).changes == ()
        for schedule in desired.schedules:  # and the copy puts the same people on call
            assert await _on_call(second, schedule.name) == await _on_call(first, schedule.name), schedule.name


ON_CALL_FROM = datetime(2026, 1, 20, tzinfo=timezone.utc)  # within the generated rotations' starts
STEP, STEPS = timedelta(minutes=15), 14 * 24 * 4  # 14 days at 15-minute steps


async def _on_call(conn: asyncpg.Connection, schedule_name: str) -> list[list[str]]:
    """Who the deployment behind `conn` puts on call on the schedule, by e-mail, at each step."""
    schedule_id = await conn.fetchval("SELECT id::text FROM schedules WHERE name = $1", schedule_name)
    loaded = await load_schedule(conn, schedule_id, ON_CALL_FROM, ON_CALL_FROM + STEP * STEPS)
    assert loaded is not None
    emails = dict(await conn.fetch("SELECT id::text, email FROM users"))
    return [sorted(emails[who] for who in on_call(loaded.schedule, ON_CALL_FROM + STEP * n)) for n in range(STEPS)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(desired=documents().filter(_distinct_keys))
def test_export_then_apply_plans_nothing(two_databases: tuple[str, str], desired: Document) -> None:
    asyncio.run(_round_trip(two_databases, desired))


def test_a_prune_deletes_what_the_file_leaves_out(two_databases: tuple[str, str]) -> None:
    async def run() -> None:
        async with _rolled_back(two_databases[0]) as conn:
            kept = Service("kept")
            await _applied(conn, Document(services=(kept, Service("dropped")), teams=(Team("ops"),)))
            current = await read_document(conn)
            pruned = plan(Document(services=(kept,)), current, prune=True)
            assert [(c.action, c.kind, c.name) for c in pruned.changes] == [
                ("delete", "team", "ops"), ("delete", "service", "dropped")]
            await apply(conn, Document(services=(kept,)), pruned, "config test")
            assert [s.name for s in (await read_document(conn)).services] == ["kept"]

    asyncio.run(run())


def test_overlapping_overrides_take_precedence_in_the_files_order(two_databases: tuple[str, str]) -> None:
    """The file's later override wins where they overlap, as an override made later does, though
    one transaction makes them all; and the export lists them in that order."""
    start = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    emails = [f"{name}@example.com" for name in ("ada", "bob", "cy", "dee", "eve")]
    overrides = tuple(Override(email, start, start + timedelta(hours=8)) for email in reversed(emails))

    async def run() -> None:
        async with _rolled_back(two_databases[0]) as conn:
            exported = await _applied(conn, Document(
                users=tuple(User(e.split("@")[0], e) for e in emails),
                schedules=(Schedule("cover", "UTC", overrides=overrides),)))
            [schedule] = [s for s in exported.schedules if s.name == "cover"]
            assert schedule.overrides == overrides
            schedule_id = await conn.fetchval("SELECT id::text FROM schedules WHERE name = 'cover'")
            loaded = await load_schedule(conn, schedule_id, start, start + timedelta(days=1))
            assert loaded is not None
            [who] = on_call(loaded.schedule, start + timedelta(hours=1))
            assert await conn.fetchval("SELECT email FROM users WHERE id = $1::uuid", who) == emails[0]

    asyncio.run(run())


@asynccontextmanager
async def _rolled_back(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction that is rolled back afterwards, leaving the database as it was."""
    conn = await asyncpg.connect(url)
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield conn
    finally:
        await transaction.rollback()
        await conn.close()

