"""The audit log's table (migration 027): entries appended, read a page at a time newest
first, and pruned past their retention. The table refuses updates and recent deletes itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from tocsin.actors.domain.audit import Entry, Query

# Rows a retention pass deletes per statement, so that no transaction grows with the backlog.
PRUNE_BATCH = 10_000
# The age under which the table refuses to delete an entry (migration 027), by the database's clock.
FLOOR = "30 days"

_COLUMNS = ("id, at, actor, actor_name, via, client_address, object_type, object_id, object_name,"
            " team_id::text AS team_id, action, before::text AS before, after::text AS after")


async def append(conn: asyncpg.Connection, entry: Entry, at: datetime) -> int:
    """Add `entry`, made at `at`; its id."""
    entry_id: int = await conn.fetchval(
        "INSERT INTO audit_log (at, actor, actor_name, via, client_address, object_type, object_id, object_name,"
        " team_id, action, before, after)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid, $10, $11::jsonb, $12::jsonb) RETURNING id",
        at, entry.actor.id, entry.actor.name, entry.actor.via, entry.client_address, entry.subject.object_type,
        entry.subject.object_id, entry.subject.name, entry.subject.team_id, entry.action, _json(entry.before),
        _json(entry.after),
    )
    return entry_id


async def entries(conn: asyncpg.Connection, query: Query, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` entries matching `query`, newest first."""
    where, args = _where(query)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ${len(args) + 1}", *args, limit)
    return [_entry(row) for row in rows]


async def every_entry(conn: asyncpg.Connection, query: Query, page: int = 500) -> AsyncIterator[dict[str, Any]]:
    """Every entry matching `query`, newest first, fetched `page` rows at a time."""
    while True:
        rows = await entries(conn, query, page)
        for row in rows:
            yield row
        if len(rows) < page:
            return
        query = replace(query, before_id=rows[-1]["id"])


async def prune(conn: asyncpg.Connection, before: datetime) -> int:
    """Delete the entries made before `before`, and past the table's floor by the database's
    clock (which the table goes by); how many."""
    deleted = 0
    while True:
        status: str = await conn.execute(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log"
            f" WHERE at < $1 AND at < now() - interval '{FLOOR}' LIMIT $2)", before, PRUNE_BATCH)
        count = int(status.split()[-1])
        deleted += count
        if count < PRUNE_BATCH:
            return deleted


def _where(query: Query) -> tuple[str, list[Any]]:
    clauses, args = ["true"], []

    def add(clause: str, value: Any) -> None:
        args.append(value)
        clauses.append(clause.format(f"${len(args)}"))

    for clause, value in (("actor = {}", query.actor), ("object_type = {}", query.object_type),
                          ("object_id = {}", query.object_id), ("team_id = {}::uuid", query.team),
                          ("at >= {}", query.since), ("at < {}", query.until), ("id < {}", query.before_id)):
        if value is not None:
            add(clause, value)
    if query.teams is not None:
        add("team_id = ANY({}::uuid[])", sorted(query.teams))
    return " AND ".join(clauses), args


def _entry(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["before"] = None if row["before"] is None else orjson.loads(row["before"])
    out["after"] = None if row["after"] is None else orjson.loads(row["after"])
    return out


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
