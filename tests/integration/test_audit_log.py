"""The audit log is append-only in the database itself: the application's own connection is
refused any UPDATE, TRUNCATE, or DELETE of an entry younger than the floor, and retention
removes only what is past both its setting and the floor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from tocsin.actors.domain.audit import Actor, Entry, Query, Subject
from tocsin.actors.store import audit as store
from tocsin.serve.retention import RetentionJob

ENTRY = Entry(Actor("4e0c", "Dana", "session"), "192.0.2.7", Subject("service", "s1", "payments", None), "update",
              {"name": "pay"}, {"name": "payments"})


@pytest.fixture
async def conn(own_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(own_database)
    try:
        yield connection
    finally:
        await connection.close()


async def test_an_entry_reads_back_as_it_was_appended(conn: asyncpg.Connection) -> None:
    at = datetime.now(timezone.utc)
    entry_id = await store.append(conn, ENTRY, at)

    [row] = [r for r in await store.entries(conn, Query(object_id="s1"), 10) if r["id"] == entry_id]

    assert (row["actor"], row["actor_name"], row["via"], row["client_address"]) == ("4e0c", "Dana", "session",
                                                                                      "192.0.2.7")
    assert (row["object_type"], row["object_id"], row["object_name"], row["action"]) == ("service", "s1", "payments",
                                                                                         "update")
    assert (row["before"], row["after"], row["at"]) == ({"name": "pay"}, {"name": "payments"}, at)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET after = '{}' WHERE id = $1",
    "UPDATE audit_log SET actor = 'someone else' WHERE id = $1",
    "DELETE FROM audit_log WHERE id = $1",
])
async def test_the_applications_connection_may_not_change_or_delete_a_fresh_entry(
    conn: asyncpg.Connection, statement: str
) -> None:
    entry_id = await store.append(conn, ENTRY, datetime.now(timezone.utc))

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute(statement, entry_id)

    assert await conn.fetchval("SELECT after->>'name' FROM audit_log WHERE id = $1", entry_id) == "payments"


async def test_nor_truncate_the_table(conn: asyncpg.Connection) -> None:
    await store.append(conn, ENTRY, datetime.now(timezone.utc))

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("TRUNCATE audit_log")

    assert await conn.fetchval("SELECT count(*) FROM audit_log") > 0


async def test_retention_removes_only_entries_past_the_setting_and_the_floor(conn: asyncpg.Connection) -> None:
    now = datetime.now(timezone.utc)
    ids = {days: await store.append(conn, ENTRY, now - timedelta(days=days)) for days in (500, 401, 100, 20)}

    # A setting of 10 days would reach the 20-day-old entry: the floor keeps it.
    assert await store.prune(conn, now - timedelta(days=10)) == 3
    kept = {r["id"] for r in await conn.fetch("SELECT id FROM audit_log")}
    assert ids[20] in kept and not kept & {ids[500], ids[401], ids[100]}


async def test_an_old_entry_past_the_floor_may_be_deleted_but_not_updated(conn: asyncpg.Connection) -> None:
    old = await store.append(conn, ENTRY, datetime.now(timezone.utc) - timedelta(days=40))

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE audit_log SET action = 'nothing' WHERE id = $1", old)
    assert await conn.execute("DELETE FROM audit_log WHERE id = $1", old) == "DELETE 1"


async def test_the_retention_job_prunes_the_log_by_its_own_setting_even_when_raw_alerts_are_kept(
    conn: asyncpg.Connection, own_database: str
) -> None:
    now = datetime.now(timezone.utc)
    old = await store.append(conn, ENTRY, now - timedelta(days=120))
    kept = await store.append(conn, ENTRY, now - timedelta(days=60))
    pool = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    try:
        async def get_pool() -> asyncpg.Pool:
            return pool

        await RetentionJob(get_pool, 0, lambda: now, 100).run_once()  # raw alerts kept for ever
    finally:
        await pool.close()

    ids = {r["id"] for r in await conn.fetch("SELECT id FROM audit_log")}
    assert kept in ids and old not in ids
