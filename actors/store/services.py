"""Services and their integration keys."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from tocsin.actors.domain.opsgenie_keys import is_opsgenie_key
from tocsin.actors.store.rows import assignments, delete_one, one

_COLUMNS = (
    "id::text, name, team_id::text, description, escalation_policy_id::text, urgency, auto_resolve_minutes, max_unacknowledged,"
    " created_at, updated_at"
)
_SERVICE = f"SELECT {_COLUMNS} FROM services"
_EDITABLE = ("name", "team_id", "description", "escalation_policy_id", "urgency", "auto_resolve_minutes", "max_unacknowledged")
_INTEGRATION_COLUMNS = ("id::text, service_id::text, team_id::text, type, name, key, config::text, created_at,"
                        " revoked_at")
_INTEGRATION = f"SELECT {_INTEGRATION_COLUMNS} FROM integrations"


@dataclass(frozen=True, slots=True)
class IntegrationKey:
    """What the gateway needs to know about a routing key."""

    integration_id: str
    service_id: str  # "" for a router integration, which belongs to no service
    type: str
    revoked: bool
    config: dict[str, Any] = field(default_factory=dict)  # the integration's own options


ROUTING_KEY_LENGTH = 32
ROUTING_KEY_ALPHABET = "0123456789abcdef"
_ROUTING_KEY = re.compile(f"[{ROUTING_KEY_ALPHABET}]{{{ROUTING_KEY_LENGTH}}}")


def new_routing_key() -> str:
    """32 characters of lower-case hexadecimal, as PagerDuty's integration keys are; also
    the keys of heartbeats and the local part of e-mail integrations' addresses."""
    return secrets.token_hex(ROUTING_KEY_LENGTH // 2)


def is_routing_key(text: str) -> bool:
    """Whether `text` could be a key `new_routing_key` made: anything else is nobody's key,
    known without looking it up."""
    return _ROUTING_KEY.fullmatch(text) is not None


def is_integration_key(text: str) -> bool:
    """Whether an integration could have `text` as its key: one Tocsin made, or an Opsgenie API
    key (36 characters, a UUID's form) that an `opsgenie` integration kept when it was imported,
    so that its senders only change their base URL."""
    return is_routing_key(text) or is_opsgenie_key(text)


async def create_service(
    conn: asyncpg.Connection, name: str, description: str,
    escalation_policy_id: str | None = None, urgency: str = "high",
    auto_resolve_minutes: int | None = None, max_unacknowledged: int | None = None, team_id: str | None = None,
) -> dict[str, Any]:
    """Raises asyncpg.ForeignKeyViolationError when the escalation policy (or team) does not exist."""
    row = await conn.fetchrow(
        "INSERT INTO services (id, name, description, escalation_policy_id, urgency, auto_resolve_minutes,"
        f" max_unacknowledged, team_id) VALUES ($1, $2, $3, $4::uuid, $5, $6, $7, $8::uuid) RETURNING {_COLUMNS}",
        str(uuid.uuid4()), name, description, escalation_policy_id, urgency, auto_resolve_minutes,
        max_unacknowledged, team_id,
    )
    return dict(row)


async def list_services(conn: asyncpg.Connection, teams: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every service, or those the `teams` own."""
    if teams is None:
        return [dict(r) for r in await conn.fetch(_SERVICE + " ORDER BY created_at, id")]
    rows = await conn.fetch(_SERVICE + " WHERE team_id = ANY($1::uuid[]) ORDER BY created_at, id", list(teams))
    return [dict(r) for r in rows]


async def get_service(conn: asyncpg.Connection, service_id: str) -> dict[str, Any] | None:
    return one(await conn.fetchrow(_SERVICE + " WHERE id = $1::uuid", service_id))


async def urgencies(conn: asyncpg.Connection, service_ids: Collection[str]) -> dict[str, str]:
    """{service id: its urgency} for those of `service_ids` that exist (each a UUID's text)."""
    rows = await conn.fetch("SELECT id::text, urgency FROM services WHERE id = ANY($1::uuid[])", list(service_ids))
    return {r["id"]: r["urgency"] for r in rows}


async def update_service(
    conn: asyncpg.Connection, service_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Set the editable columns named in `changes` (None clears the escalation policy or
    the team). Raises asyncpg.ForeignKeyViolationError for an unknown policy or team."""
    sets, values = assignments(changes, _EDITABLE, 2, "updated_at = now()")
    row = await conn.fetchrow(
        f"UPDATE services SET {sets} WHERE id = $1::uuid RETURNING {_COLUMNS}",
        service_id, *values,
    )
    return one(row)


async def delete_service(conn: asyncpg.Connection, service_id: str) -> bool:
    return await delete_one(conn, "DELETE FROM services WHERE id = $1::uuid", service_id)


def _integration(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "config": orjson.loads(row["config"])}


async def create_integration(
    conn: asyncpg.Connection, service_id: str | None, type_: str, name: str, config: dict[str, Any] | None = None,
    team_id: str | None = None,
) -> dict[str, Any]:
    """A new integration with a new key; `service_id` None for a router integration, which
    alone has a `team_id` of its own (raises asyncpg.ForeignKeyViolationError for no team)."""
    row = await conn.fetchrow(
        "INSERT INTO integrations (id, service_id, type, name, key, config, team_id)"
        f" VALUES ($1, $2::uuid, $3, $4, $5, $6::jsonb, $7::uuid) RETURNING {_INTEGRATION_COLUMNS}",
        str(uuid.uuid4()), service_id, type_, name, new_routing_key(), orjson.dumps(config or {}).decode(), team_id,
    )
    return _integration(row)


async def list_integrations(conn: asyncpg.Connection, service_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(_INTEGRATION + " WHERE service_id = $1::uuid ORDER BY created_at", service_id)
    return [_integration(r) for r in rows]


async def router_integrations(conn: asyncpg.Connection, teams: Collection[str] | None = None
                              ) -> list[dict[str, Any]]:
    """Every router integration, or those the `teams` own."""
    rows = await conn.fetch(_INTEGRATION + " WHERE type = 'router' AND ($1::uuid[] IS NULL OR team_id = ANY($1::uuid[]))"
                            " ORDER BY created_at, id", None if teams is None else list(teams))
    return [_integration(r) for r in rows]


async def get_router_integration(conn: asyncpg.Connection, integration_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(_INTEGRATION + " WHERE id = $1::uuid AND type = 'router'", integration_id)
    return _integration(row) if row else None


async def update_router_integration(
    conn: asyncpg.Connection, integration_id: str, name: str | None, config: dict[str, Any] | None,
    team: tuple[str | None] | None = None,
) -> dict[str, Any] | None:
    """Set the name and the options given (None leaves each as it is), and the team when
    `team` holds one (None in it: no team)."""
    row = await conn.fetchrow(
        "UPDATE integrations SET name = coalesce($2, name), config = coalesce($3::jsonb, config),"
        " team_id = CASE WHEN $4 THEN $5::uuid ELSE team_id END"
        f" WHERE id = $1::uuid AND type = 'router' RETURNING {_INTEGRATION_COLUMNS}",
        integration_id, name, None if config is None else orjson.dumps(config).decode(), team is not None,
        team[0] if team is not None else None,
    )
    return _integration(row) if row else None


async def revoke_router_integration(conn: asyncpg.Connection, integration_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "UPDATE integrations SET revoked_at = coalesce(revoked_at, now())"
        f" WHERE id = $1::uuid AND type = 'router' RETURNING {_INTEGRATION_COLUMNS}",
        integration_id,
    )
    return _integration(row) if row else None


async def revoke_integration(
    conn: asyncpg.Connection, service_id: str, integration_id: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "UPDATE integrations SET revoked_at = coalesce(revoked_at, now())"
        f" WHERE id = $1::uuid AND service_id = $2::uuid RETURNING {_INTEGRATION_COLUMNS}",
        integration_id, service_id,
    )
    return _integration(row) if row else None


async def find_key(conn: asyncpg.Connection, key: str) -> IntegrationKey | None:
    row = await conn.fetchrow(
        "SELECT id::text, coalesce(service_id::text, '') AS service_id, type, revoked_at IS NOT NULL AS revoked,"
        " config::text FROM integrations WHERE key = $1",
        key,
    )
    if row is None:
        return None
    return IntegrationKey(row["id"], row["service_id"], row["type"], row["revoked"], orjson.loads(row["config"]))


async def record_change_event(
    conn: asyncpg.Connection,
    *,
    event_id: str,
    integration: IntegrationKey,
    summary: str,
    source: str | None,
    timestamp: Any,
    received_at: Any,
    payload: str,
) -> None:
    await conn.execute(
        "INSERT INTO change_events (id, service_id, integration_id, summary, source, timestamp,"
        " received_at, payload) VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6, $7, $8)",
        event_id, integration.service_id, integration.integration_id, summary, source, timestamp,
        received_at, payload,
    )
