"""Schedules and their overrides, and loading them as domain `Schedule`s.

Layers are stored as the JSON documents of the REST API (see tocsin.actors.domain.definitions);
every write to a schedule or its overrides bumps `schedules.version` (a trigger), which is
what on-call caches key on.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from tocsin.actors.domain.definitions import schedule_from_json
from tocsin.actors.domain.schedule import Schedule
from tocsin.actors.store.rows import delete_one, one
from tocsin.actors.store.users import new_calendar_token

_SCHEDULE_COLUMNS = (
    "id::text, name, team_id::text, description, time_zone, layers::text AS layers, version, calendar_token,"
    " owner_id::text, reachability_check, check_lead_minutes, created_at, updated_at"
)
_SCHEDULE = f"SELECT {_SCHEDULE_COLUMNS} FROM schedules"
_OVERRIDE_COLUMNS = "id::text, schedule_id::text, user_id::text, start_at AS start, end_at AS end, created_at"


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A schedule row with its domain object. `schedule.overrides` holds the overrides that
    overlap the window it was loaded for, oldest first; `override_ids` are their ids, in the
    same order."""

    row: dict[str, Any]
    schedule: Schedule
    override_ids: tuple[str, ...]

    @property
    def id(self) -> str:
        return str(self.row["id"])

    @property
    def name(self) -> str:
        return str(self.row["name"])

    @property
    def version(self) -> int:
        return int(self.row["version"])


def _schedule(record: asyncpg.Record) -> dict[str, Any]:
    """The row with its JSON columns decoded."""
    row = dict(record)
    return row | {name: orjson.loads(row[name]) for name in ("layers", "overrides") if name in row}


@dataclass(frozen=True, slots=True)
class Handoffs:
    """Who answers for a schedule (a user id, or None), and whether, and how many minutes
    before a shift, the incoming person is asked to confirm they can be reached."""

    owner_id: str | None = None
    reachability_check: bool = False
    check_lead_minutes: int = 60


async def create_schedule(
    conn: asyncpg.Connection, name: str, description: str, time_zone: str, layers: list[dict[str, Any]],
    handoffs: Handoffs = Handoffs(), team_id: str | None = None,
) -> dict[str, Any]:
    """Raises asyncpg.ForeignKeyViolationError when the owner is no user (or the team no team)."""
    record = await conn.fetchrow(
        "INSERT INTO schedules (id, name, description, time_zone, layers, calendar_token, owner_id,"
        " reachability_check, check_lead_minutes, team_id)"
        f" VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::uuid, $8, $9, $10::uuid) RETURNING {_SCHEDULE_COLUMNS}",
        str(uuid.uuid4()), name, description, time_zone, orjson.dumps(layers).decode(), new_calendar_token(),
        handoffs.owner_id, handoffs.reachability_check, handoffs.check_lead_minutes, team_id,
    )
    return _schedule(record)


async def list_schedules(conn: asyncpg.Connection, teams: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every schedule, or those the `teams` own."""
    rows = await conn.fetch(_SCHEDULE + " WHERE $1::uuid[] IS NULL OR team_id = ANY($1::uuid[]) ORDER BY created_at, id",
                            None if teams is None else list(teams))
    return [_schedule(r) for r in rows]


async def get_schedule(conn: asyncpg.Connection, schedule_id: str) -> dict[str, Any] | None:
    record = await conn.fetchrow(_SCHEDULE + " WHERE id = $1::uuid", schedule_id)
    return _schedule(record) if record else None


async def update_schedule(
    conn: asyncpg.Connection,
    schedule_id: str,
    name: str,
    description: str,
    time_zone: str,
    layers: list[dict[str, Any]],
    handoffs: Handoffs = Handoffs(),
    team: tuple[str | None] | None = None,
) -> dict[str, Any] | None:
    """Its team too when `team` holds one (None in it: no team). Raises
    asyncpg.ForeignKeyViolationError when the owner is no user (or the team no team)."""
    record = await conn.fetchrow(
        "UPDATE schedules SET name = $2, description = $3, time_zone = $4, layers = $5::jsonb, owner_id = $6::uuid,"
        " reachability_check = $7, check_lead_minutes = $8, team_id = CASE WHEN $9 THEN $10::uuid ELSE team_id END"
        f" WHERE id = $1::uuid RETURNING {_SCHEDULE_COLUMNS}",
        schedule_id, name, description, time_zone, orjson.dumps(layers).decode(),
        handoffs.owner_id, handoffs.reachability_check, handoffs.check_lead_minutes, team is not None,
        team[0] if team is not None else None,
    )
    return _schedule(record) if record else None


async def delete_schedule(conn: asyncpg.Connection, schedule_id: str) -> bool:
    """The shift notices and reachability check pages it planned and has not sent are cancelled."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE notifications SET status = 'cancelled', last_error = 'the schedule was deleted',"
            " updated_at = now() WHERE status = 'pending' AND id IN ("
            " SELECT notification_id FROM shift_notices WHERE schedule_id = $1::uuid UNION ALL"
            " SELECT notification_id FROM reachability_checks WHERE schedule_id = $1::uuid)",
            schedule_id)
        return await delete_one(conn, "DELETE FROM schedules WHERE id = $1::uuid", schedule_id)


async def people(conn: asyncpg.Connection, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{"id", "name", "email"} of each user that exists, by id."""
    rows = await conn.fetch("SELECT id::text, name, email FROM users WHERE id = ANY($1::uuid[])", list(set(user_ids)))
    return {r["id"]: dict(r) for r in rows}


async def calendar_owner(conn: asyncpg.Connection, user_id: str) -> dict[str, Any] | None:
    """The user with the token of their iCalendar feed."""
    row = await conn.fetchrow("SELECT id::text, name, email, calendar_token FROM users WHERE id = $1::uuid", user_id)
    return one(row)


# -- overrides -------------------------------------------------------------------------


async def create_override(
    conn: asyncpg.Connection, schedule_id: str, user_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO schedule_overrides (id, schedule_id, user_id, start_at, end_at)"
        f" VALUES ($1, $2::uuid, $3::uuid, $4, $5) RETURNING {_OVERRIDE_COLUMNS}",
        str(uuid.uuid4()), schedule_id, user_id, start, end,
    )
    return dict(row)


async def lock_schedule(conn: asyncpg.Connection, schedule_id: str) -> bool:
    """Holds the schedule's row until the transaction ends (so counting its overrides and
    adding one are not raced by another writer); False when there is no such schedule."""
    return await conn.fetchval("SELECT true FROM schedules WHERE id = $1::uuid FOR UPDATE", schedule_id) is not None


async def count_overrides_ending_after(conn: asyncpg.Connection, schedule_id: str, since: datetime) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM schedule_overrides WHERE schedule_id = $1::uuid AND end_at > $2", schedule_id, since)
    return count


async def list_overrides(
    conn: asyncpg.Connection, schedule_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The schedule's overrides that overlap [start, end), by start."""
    rows = await conn.fetch(
        f"SELECT {_OVERRIDE_COLUMNS} FROM schedule_overrides WHERE schedule_id = $1::uuid"
        " AND end_at > $2 AND start_at < $3 ORDER BY start_at, created_at, id",
        schedule_id, start, end,
    )
    return [dict(r) for r in rows]


async def override_user(conn: asyncpg.Connection, schedule_id: str, override_id: str) -> str | None:
    """Whom the override puts on call; None when the schedule has no such override."""
    user_id: str | None = await conn.fetchval(
        "SELECT user_id::text FROM schedule_overrides WHERE id = $1::uuid AND schedule_id = $2::uuid",
        override_id, schedule_id,
    )
    return user_id


async def delete_override(conn: asyncpg.Connection, schedule_id: str, override_id: str) -> bool:
    return await delete_one(
        conn, "DELETE FROM schedule_overrides WHERE id = $1::uuid AND schedule_id = $2::uuid", override_id, schedule_id
    )


# -- as domain objects -----------------------------------------------------------------

# One statement, so one snapshot: the overrides are those of the version read.
_LOADED = (
    f"SELECT {_SCHEDULE_COLUMNS}, (SELECT coalesce(json_agg(json_build_object("
    "'id', o.id, 'user_id', o.user_id, 'start', o.start_at, 'end', o.end_at) ORDER BY o.created_at, o.id), '[]')"
    " FROM schedule_overrides o WHERE o.schedule_id = schedules.id AND o.end_at > $1 AND o.start_at < $2"
    ")::text AS overrides FROM schedules"
)


async def load_schedule(
    conn: asyncpg.Connection, schedule_id: str, start: datetime, end: datetime
) -> StoredSchedule | None:
    """The schedule with the overrides that overlap [start, end), oldest first: enough to
    compute its shifts over that window. None when there is no such schedule."""
    record = await conn.fetchrow(_LOADED + " WHERE id = $3::uuid", start, end, schedule_id)
    return _stored(record) if record else None


async def load_schedules(conn: asyncpg.Connection, start: datetime, end: datetime) -> list[StoredSchedule]:
    """Every schedule, as `load_schedule` loads one."""
    return [_stored(record) for record in await conn.fetch(_LOADED + " ORDER BY created_at, id", start, end)]


def _stored(record: asyncpg.Record) -> StoredSchedule:
    row = _schedule(record)
    overrides = row.pop("overrides")
    schedule = schedule_from_json(row["time_zone"], row["layers"], [
        (o["user_id"], datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"])) for o in overrides
    ])
    return StoredSchedule(row, schedule, tuple(o["id"] for o in overrides))
