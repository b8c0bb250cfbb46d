"""Routing rules: ordered rule sets, every saved version, the generation gateways poll, and
how often each rule matched.

A rule set is `(kind, owner)`: ("service", service id), ("router", router integration id) or
("inhibit", None). Its rules have positions 0, 1, 2… in order. The spec is stored as the
core reads it (actors/domain/rules), its "id" being the row's id. Every change of a set's
rules is made by its caller inside a transaction that first takes `lock_set`, so that the set
it checked (compiled whole) is the set it changes. Triggers bump `rule_generation` in the same
transaction as any change (015_routing_rules.sql).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
import orjson

Kind = Literal["service", "router", "inhibit"]
KINDS: tuple[Kind, ...] = ("service", "router", "inhibit")

_OWNER_COLUMN = {"service": "service_id", "router": "integration_id", "inhibit": None}
_RULE = ("id::text, kind, service_id::text, integration_id::text, position, spec::text AS spec, version,"
         " created_at, updated_at, updated_by")


def _decoded(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "spec": orjson.loads(row["spec"])}


def _owned(kind: Kind, first: int) -> str:
    """The WHERE clause of one set; its owner is parameter $first (unused for inhibit)."""
    column = _OWNER_COLUMN[kind]
    if column is None:
        return f"kind = 'inhibit' AND ${first}::uuid IS NULL"
    return f"kind = '{kind}' AND {column} = ${first}::uuid"


async def lock_set(conn: asyncpg.Connection, kind: Kind, owner: str | None) -> None:
    """Hold the set until the transaction ends: others changing it wait."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"rules:{kind}:{owner or ''}")


async def list_rules(conn: asyncpg.Connection, kind: Kind, owner: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {_RULE} FROM rules WHERE {_owned(kind, 1)} ORDER BY position", owner)
    return [_decoded(r) for r in rows]


async def get_rule(conn: asyncpg.Connection, rule_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_RULE} FROM rules WHERE id = $1::uuid", rule_id)
    return _decoded(row) if row else None


def owner_of(rule: Mapping[str, Any]) -> str | None:
    """The owner of a rule row's set."""
    column = _OWNER_COLUMN[rule["kind"]]
    return None if column is None else rule[column]


async def insert_rule(conn: asyncpg.Connection, rule_id: str, kind: Kind, owner: str | None, position: int,
                      spec: Mapping[str, Any], by: str) -> dict[str, Any]:
    """The rule at `position` of its set (those from there on move down one), as version 1."""
    await conn.execute(f"UPDATE rules SET position = position + 1 WHERE {_owned(kind, 1)} AND position >= $2",
                       owner, position)
    column = _OWNER_COLUMN[kind]
    row = await conn.fetchrow(
        "INSERT INTO rules (id, kind, service_id, integration_id, position, spec, updated_by)"
        f" VALUES ($1::uuid, $2, $3::uuid, $4::uuid, $5, $6::jsonb, $7) RETURNING {_RULE}",
        rule_id, kind, owner if column == "service_id" else None, owner if column == "integration_id" else None,
        position, _json(spec), by,
    )
    await _keep_version(conn, rule_id, 1, spec, by)
    return _decoded(row)


async def replace_rule(conn: asyncpg.Connection, rule_id: str, spec: Mapping[str, Any], by: str,
                       position: int | None = None) -> dict[str, Any] | None:
    """A new version of the rule, moved to `position` of its set when one is given."""
    row = await conn.fetchrow(
        "UPDATE rules SET spec = $2::jsonb, version = version + 1, updated_at = now(), updated_by = $3"
        f" WHERE id = $1::uuid RETURNING {_RULE}",
        rule_id, _json(spec), by,
    )
    if row is None:
        return None
    await _keep_version(conn, rule_id, row["version"], spec, by)
    if position is not None and position != row["position"]:
        rule = _decoded(row)
        ids = [r["id"] for r in await list_rules(conn, rule["kind"], owner_of(rule)) if r["id"] != rule_id]
        ids.insert(position, rule_id)
        await set_order(conn, ids)
        return await get_rule(conn, rule_id)
    return _decoded(row)


async def delete_rule(conn: asyncpg.Connection, rule: Mapping[str, Any], by: str) -> bool:
    """Delete the rule, keeping its last spec as a deleted version; the rules after it move up."""
    deleted = await conn.fetchval("DELETE FROM rules WHERE id = $1::uuid RETURNING true", rule["id"])
    if not deleted:
        return False
    await _keep_version(conn, rule["id"], rule["version"] + 1, rule["spec"], by, deleted=True)
    await conn.execute(f"UPDATE rules SET position = position - 1 WHERE {_owned(rule['kind'], 1)} AND position > $2",
                       owner_of(rule), rule["position"])
    return True


async def set_order(conn: asyncpg.Connection, ids: Sequence[str]) -> None:
    """Positions 0, 1, 2… in the order of `ids` (every rule of one set)."""
    await conn.execute(
        "UPDATE rules SET position = o.position - 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS o (id, position)"
        " WHERE rules.id = o.id AND rules.position <> o.position - 1",
        list(ids),
    )


async def versions(conn: asyncpg.Connection, rule_id: str) -> list[dict[str, Any]]:
    """Every saved version of the rule, the first first; empty when it never existed."""
    rows = await conn.fetch(
        "SELECT version, spec::text AS spec, saved_at, saved_by, deleted FROM rule_versions"
        " WHERE rule_id = $1::uuid ORDER BY version", rule_id)
    return [_decoded(r) for r in rows]


async def _keep_version(conn: asyncpg.Connection, rule_id: str, version: int, spec: Mapping[str, Any], by: str,
                        deleted: bool = False) -> None:
    await conn.execute(
        "INSERT INTO rule_versions (rule_id, version, spec, saved_by, deleted) VALUES ($1::uuid, $2, $3::jsonb, $4, $5)",
        rule_id, version, _json(spec), by, deleted,
    )


# -- what gateways load ----------------------------------------------------------------------------

async def generation(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval("SELECT generation FROM rule_generation")
    return value


@dataclass(frozen=True, slots=True)
class Router:
    """A router integration's options (its format and catch-all among them)."""

    integration_id: str
    config: Mapping[str, Any]
    revoked: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every rule and router as of one generation: `sets` maps (kind, owner) to the set's
    rules in order, each (id, version, spec)."""

    generation: int
    sets: Mapping[tuple[Kind, str | None], list[tuple[str, int, dict[str, Any]]]]
    routers: Mapping[str, Router]
    services: frozenset[str] = frozenset()  # the ids of the services that exist


async def snapshot(conn: asyncpg.Connection) -> Snapshot:
    """Every rule set and router integration, read in one snapshot with their generation."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        current = await generation(conn)
        rows = await conn.fetch(f"SELECT {_RULE} FROM rules ORDER BY kind, service_id, integration_id, position")
        routers = await conn.fetch(
            "SELECT id::text, config::text AS config, revoked_at IS NOT NULL AS revoked FROM integrations"
            " WHERE type = 'router'")
        services = await conn.fetch("SELECT id::text FROM services")
    sets: dict[tuple[Kind, str | None], list[tuple[str, int, dict[str, Any]]]] = {}
    for row in rows:
        rule = _decoded(row)
        sets.setdefault((rule["kind"], owner_of(rule)), []).append((rule["id"], rule["version"], rule["spec"]))
    return Snapshot(current, sets, {r["id"]: Router(r["id"], orjson.loads(r["config"]), r["revoked"])
                                    for r in routers}, frozenset(r["id"] for r in services))


async def open_incident_alerts(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Each open incident with the alert that opened it, as rules see it: its id, service,
    normalised fields, the first alert's payload (None when pruned) and the type and options
    of the integration it came through (None when it came through none)."""
    rows = await conn.fetch(
        "SELECT i.id, i.service_id::text, i.dedup_key, i.summary, i.severity, i.source,"
        " a.payload::text AS payload, g.type, g.config::text AS config"
        " FROM incidents i"
        " LEFT JOIN LATERAL (SELECT payload, integration_id FROM alerts WHERE incident_id = i.id"
        "                    ORDER BY received_at LIMIT 1) a ON true"
        " LEFT JOIN integrations g ON g.id = a.integration_id"
        " WHERE i.status IN ('triggered', 'acknowledged')")
    return [{**dict(r), "payload": None if r["payload"] is None else orjson.loads(r["payload"]),
             "config": orjson.loads(r["config"]) if r["config"] else {}} for r in rows]


# -- how often rules match -------------------------------------------------------------------------

async def add_matches(conn: asyncpg.Connection, counts: Mapping[tuple[str, datetime], int]) -> None:
    """Add `counts`, {(rule id, minute): alerts matched}, to what is stored."""
    if not counts:
        return
    keys = list(counts)
    await conn.execute(
        "INSERT INTO rule_matches (rule_id, minute, count)"
        " SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[])"
        " ON CONFLICT (rule_id, minute) DO UPDATE SET count = rule_matches.count + excluded.count",
        [rule for rule, _ in keys], [_minute(at) for _, at in keys], [counts[key] for key in keys],
    )


Total = Literal["matched", "dropped_by_rules", "dropped_by_router"]


async def add_totals(conn: asyncpg.Connection, counts: Mapping[tuple[Total, str], int]) -> None:
    """Add `counts`, {(what, subject): alerts}, to the running totals (017_rule_totals.sql)."""
    if not counts:
        return
    keys = list(counts)
    await conn.execute(
        "INSERT INTO rule_totals (what, subject, count)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
        " ON CONFLICT (what, subject) DO UPDATE SET count = rule_totals.count + excluded.count",
        [what for what, _ in keys], [subject for _, subject in keys], [counts[key] for key in keys],
    )


async def totals(conn: asyncpg.Connection) -> dict[tuple[str, str], int]:
    """Every running total, {(what, subject): alerts}."""
    return {(r["what"], r["subject"]): r["count"] for r in await conn.fetch("SELECT what, subject, count FROM rule_totals")}


async def match_counts(conn: asyncpg.Connection, rule_ids: Collection[str], now: datetime
                       ) -> dict[str, tuple[int, int]]:
    """{rule id: (matches in the last hour, in the last day)} for those of `rule_ids` that matched."""
    rows = await conn.fetch(
        "SELECT rule_id::text, coalesce(sum(count) FILTER (WHERE minute > $2), 0) AS hour, sum(count) AS day"
        " FROM rule_matches WHERE rule_id = ANY($1::uuid[]) AND minute > $3 GROUP BY rule_id",
        list(rule_ids), now - timedelta(hours=1), now - timedelta(days=1),
    )
    return {r["rule_id"]: (r["hour"], r["day"]) for r in rows}


async def prune_matches(conn: asyncpg.Connection, before: datetime) -> int:
    status: str = await conn.execute("DELETE FROM rule_matches WHERE minute < $1", before)
    return int(status.split()[-1])


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
