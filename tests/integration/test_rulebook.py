"""Routing rules as stored (actors/store/rules.py) and as a gateway holds them compiled
(actors/rulebook.py): order, versions, the generation, match counts, and a change seen by a
polling RuleBook without anyone telling it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from tocsin.actors.domain.rules import Disposition, view_of
from tocsin.actors.rulebook import RuleBook
from tocsin.actors.store import rules as store
from tocsin.actors.store import services as service_store
from tocsin.actors.store.database import Database

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def disk_alert(host: str = "db1") -> Any:
    return view_of("alertmanager", {"labels": {"alertname": "DiskFull", "instance": host}}, summary="Disk full")


def suppress_db(rule_id: str, name: str = "quiet db") -> dict[str, Any]:
    return {"id": rule_id, "name": name, "conditions": {"field": "labels.instance", "op": "starts_with", "value": "db"},
            "actions": {"suppress": True}}


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def book(database_url: str) -> AsyncIterator[RuleBook]:
    database = Database(database_url, max_size=2)
    rules = RuleBook(database, poll_s=0.1)
    yield rules
    await rules.stop()
    await database.close()


async def add(conn: asyncpg.Connection, kind: store.Kind, owner: str | None, spec: Callable[[str], dict[str, Any]],
              position: int | None = None) -> str:
    rule_id = str(uuid.uuid4())
    async with conn.transaction():
        await store.lock_set(conn, kind, owner)
        count = len(await store.list_rules(conn, kind, owner))
        await store.insert_rule(conn, rule_id, kind, owner, count if position is None else position, spec(rule_id),
                                "tests")
    return rule_id


async def test_rules_keep_their_order_and_every_version_a_deletion_included(conn: asyncpg.Connection,
                                                                           service_id: str) -> None:
    first = await add(conn, "service", service_id, suppress_db)
    last = await add(conn, "service", service_id, suppress_db)
    between = await add(conn, "service", service_id, suppress_db, position=1)
    assert [r["id"] for r in await store.list_rules(conn, "service", service_id)] == [first, between, last]

    await store.replace_rule(conn, between, suppress_db(between, "renamed"), "alice", position=0)
    assert [(r["id"], r["position"]) for r in await store.list_rules(conn, "service", service_id)] == [
        (between, 0), (first, 1), (last, 2)]
    rule = await store.get_rule(conn, between)
    assert rule is not None and (rule["version"], rule["spec"]["name"], rule["updated_by"]) == (2, "renamed", "alice")

    assert await store.delete_rule(conn, rule, "bob")
    assert [(r["id"], r["position"]) for r in await store.list_rules(conn, "service", service_id)] == [
        (first, 0), (last, 1)]
    assert [(v["version"], v["spec"]["name"], v["saved_by"], v["deleted"]) for v in await store.versions(conn, between)
            ] == [(1, "quiet db", "tests", False), (2, "renamed", "alice", False), (3, "renamed", "bob", True)]


async def test_every_change_to_rules_or_integrations_moves_the_generation(conn: asyncpg.Connection,
                                                                        service_id: str) -> None:
    before = await store.generation(conn)
    rule_id = await add(conn, "service", service_id, suppress_db)
    added = await store.generation(conn)
    router = await service_store.create_integration(conn, None, "router", "edge",
                                                    {"format": "generic", "catch_all": {"drop": True}})
    made = await store.generation(conn)
    await conn.execute("DELETE FROM rules WHERE id = $1::uuid", rule_id)

    assert before < added < made < await store.generation(conn)
    assert (await service_store.find_key(conn, router["key"])).service_id == ""  # type: ignore[union-attr]


async def test_match_counts_add_up_per_minute_and_read_by_hour_and_day(conn: asyncpg.Connection) -> None:
    rule, other = str(uuid.uuid4()), str(uuid.uuid4())
    await store.add_matches(conn, {(rule, NOW - timedelta(seconds=10)): 2, (other, NOW): 1})
    await store.add_matches(conn, {(rule, NOW - timedelta(seconds=20)): 3, (rule, NOW - timedelta(hours=3)): 5})
    await store.add_matches(conn, {(rule, NOW - timedelta(days=2)): 7})

    assert await store.match_counts(conn, [rule, str(uuid.uuid4())], NOW) == {rule: (5, 10)}
    assert await store.prune_matches(conn, NOW - timedelta(days=1)) == 1
    assert await store.match_counts(conn, [rule], NOW) == {rule: (5, 10)}


async def test_a_rulebook_holds_each_set_compiled_and_compiles_again_only_what_changed(
        conn: asyncpg.Connection, service_id: str, book: RuleBook) -> None:
    rule_id = await add(conn, "service", service_id, suppress_db)
    assert await book.refresh()
    rules = book.service(service_id)
    assert rules is not None
    assert rules.evaluate(disk_alert(), NOW).matched == (rule_id,)
    assert rules.evaluate(disk_alert(), NOW).disposition == Disposition.SUPPRESS
    assert book.service(str(uuid.uuid4())) is None

    other_service = str(uuid.uuid4())
    await conn.execute("INSERT INTO services (id, name) VALUES ($1, 'other')", other_service)
    await add(conn, "service", other_service, suppress_db)
    assert await book.refresh()
    assert book.service(service_id) is rules  # unchanged: not compiled again
    assert not await book.refresh()  # nothing moved since


async def test_a_router_is_held_with_its_format_and_catch_all(conn: asyncpg.Connection, service_id: str,
                                                              book: RuleBook) -> None:
    router = await service_store.create_integration(conn, None, "router", "edge",
                                                    {"format": "alertmanager", "catch_all": {"route_to": service_id}})
    await book.refresh()
    held = book.router(router["id"])
    assert held is not None and held.format == "alertmanager"
    decision = held.rules.evaluate(disk_alert(), NOW)
    assert (decision.service_id, decision.by_catch_all) == (service_id, True)


async def test_a_polling_rulebook_sees_a_change_at_its_next_poll(conn: asyncpg.Connection, service_id: str,
                                                                 database_url: str) -> None:
    """Polled every POLL_S (a second at most): seen by the second poll after the change at the
    latest, so within two seconds, counted in polls rather than timed."""
    database = Database(database_url, max_size=2)
    book = RuleBook(database)
    try:
        book.start()
        await asyncio.wait_for(book.ready(), 30)
        rule_id = await add(conn, "service", service_id, suppress_db)
        polls = book.polls

        async def seen() -> None:
            while (rules := book.service(service_id)) is None or rules.evaluate(disk_alert(), NOW).matched != (rule_id,):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(seen(), 30)
        assert book.polls - polls <= 2
    finally:
        await book.stop()
        await database.close()
