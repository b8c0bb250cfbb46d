"""The deployment's configuration read as a configuration document: ids turned into names.

What `export` writes, and what a plan compares the file with. Keys are read in full (export is
for admins, and a plan masks them). Left out: revoked integrations, browsers' web push
subscriptions, and everything that is state rather than configuration (incidents, pings…).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from tocsin.actors.domain.config.document import (
    ContactMethod, Document, EscalationPolicy, Heartbeat, Integration, Layer, Level, MaintenanceWindow, Member,
    NotificationRule, Override, Restriction, Rotation, Router, Schedule, Service, Target, Team, User, Window,
)


class Names:
    """Ids to names, for the objects that others refer to."""

    def __init__(self, users: Mapping[str, str], teams: Mapping[str, str], schedules: Mapping[str, str],
                 policies: Mapping[str, str], services: Mapping[str, str]) -> None:
        self.users, self.teams, self.schedules = users, teams, schedules
        self.policies, self.services = policies, services


async def _names(conn: asyncpg.Connection, query: str) -> dict[str, str]:
    return {row[0]: row[1] for row in await conn.fetch(query)}


async def read_document(conn: asyncpg.Connection) -> Document:
    """Every object of the deployment, in the order they were made."""
    names = Names(
        await _names(conn, "SELECT id::text, email FROM users"),
        await _names(conn, "SELECT id::text, name FROM teams"),
        await _names(conn, "SELECT id::text, name FROM schedules"),
        await _names(conn, "SELECT id::text, name FROM escalation_policies"),
        await _names(conn, "SELECT id::text, name FROM services"),
    )
    return Document(
        teams=await _teams(conn, names),
        users=await _users(conn),
        schedules=await _schedules(conn, names),
        escalation_policies=await _policies(conn, names),
        services=await _services(conn, names),
        routers=await _routers(conn, names),
        inhibit_rules=await _rules(conn, "kind = 'inhibit'", None, names),
    )


async def _teams(conn: asyncpg.Connection, names: Names) -> tuple[Team, ...]:
    members: dict[str, list[Member]] = {}
    for row in await conn.fetch("SELECT team_id::text, user_id::text, role FROM team_members ORDER BY user_id"):
        members.setdefault(row["team_id"], []).append(Member(names.users[row["user_id"]], row["role"]))
    rows = await conn.fetch("SELECT id::text, name FROM teams ORDER BY created_at, id")
    return tuple(Team(row["name"], tuple(members.get(row["id"], ()))) for row in rows)


async def _users(conn: asyncpg.Connection) -> tuple[User, ...]:
    rules: dict[str, list[NotificationRule]] = {}
    for row in await conn.fetch("SELECT contact_method_id::text AS method, urgency, delay_minutes"
                                " FROM notification_rules ORDER BY urgency, delay_minutes"):
        rules.setdefault(row["method"], []).append(NotificationRule(row["urgency"], row["delay_minutes"]))
    methods: dict[str, list[ContactMethod]] = {}
    for row in await conn.fetch("SELECT id::text, user_id::text, kind, address, label FROM contact_methods"
                                " WHERE kind <> 'webpush' ORDER BY created_at, id"):
        methods.setdefault(row["user_id"], []).append(
            ContactMethod(row["kind"], row["address"], row["label"], tuple(rules.get(row["id"], ()))))
    rows = await conn.fetch("SELECT id::text, name, email, time_zone, role FROM users ORDER BY created_at, id")
    return tuple(User(row["name"], row["email"], row["time_zone"], row["role"], tuple(methods.get(row["id"], ())))
                 for row in rows)


def _layer(doc: Mapping[str, Any], names: Names) -> Layer:
    rotation, restriction = doc["rotation"], doc.get("restriction")
    return Layer(
        name=doc["name"],
        rotation=Rotation(
            participants=tuple(names.users.get(str(p), str(p)) for p in rotation["participants"]),
            start=datetime.fromisoformat(rotation["start"]),
            shift_length=rotation["shift_length"],
            unit=rotation["unit"],
            handoff=rotation.get("handoff", "00:00"),
        ),
        priority=doc.get("priority", 0),
        restriction=None if restriction is None else Restriction(
            tuple(Window(w["day"], w["start"], w["end"]) for w in restriction["windows"])),
    )


async def _schedules(conn: asyncpg.Connection, names: Names) -> tuple[Schedule, ...]:
    overrides: dict[str, list[Override]] = {}
    # Oldest first, as they take precedence: a later override wins where two overlap.
    for row in await conn.fetch("SELECT schedule_id::text, user_id::text, start_at, end_at FROM schedule_overrides"
                                " ORDER BY created_at, id"):
        overrides.setdefault(row["schedule_id"], []).append(
            Override(names.users[row["user_id"]], row["start_at"], row["end_at"]))
    rows = await conn.fetch("SELECT id::text, name, team_id::text, description, time_zone, layers::text, owner_id::text,"
                            " reachability_check, check_lead_minutes FROM schedules ORDER BY created_at, id")
    return tuple(Schedule(
        name=row["name"], time_zone=row["time_zone"], team=_name(names.teams, row["team_id"]),
        description=row["description"], layers=tuple(_layer(doc, names) for doc in orjson.loads(row["layers"])),
        overrides=tuple(overrides.get(row["id"], ())), owner=_name(names.users, row["owner_id"]),
        reachability_check=row["reachability_check"], check_lead_minutes=row["check_lead_minutes"],
    ) for row in rows)


def _name(by_id: Mapping[str, str], id_: str | None) -> str | None:
    return None if id_ is None else by_id.get(id_, id_)


def _target(doc: Mapping[str, Any], names: Names) -> Target:
    if doc["type"] == "user":
        return Target(user=names.users.get(str(doc["id"]), str(doc["id"])))
    return Target(schedule=names.schedules.get(str(doc["id"]), str(doc["id"])))


async def _policies(conn: asyncpg.Connection, names: Names) -> tuple[EscalationPolicy, ...]:
    rows = await conn.fetch("SELECT name, team_id::text, description, repeat, levels::text FROM escalation_policies"
                            " ORDER BY created_at, id")
    return tuple(EscalationPolicy(
        name=row["name"], team=_name(names.teams, row["team_id"]), description=row["description"],
        repeat=row["repeat"],
        levels=tuple(Level(tuple(_target(t, names) for t in level["targets"]), level["delay_minutes"])
                     for level in orjson.loads(row["levels"])),
    ) for row in rows)


async def _services(conn: asyncpg.Connection, names: Names) -> tuple[Service, ...]:
    integrations: dict[str, list[Integration]] = {}
    for row in await conn.fetch("SELECT service_id::text, type, name, key, config::text FROM integrations"
                                " WHERE service_id IS NOT NULL AND revoked_at IS NULL ORDER BY created_at, id"):
        integrations.setdefault(row["service_id"], []).append(
            Integration(row["type"], row["name"], row["key"], orjson.loads(row["config"])))
    heartbeats: dict[str, list[Heartbeat]] = {}
    for row in await conn.fetch("SELECT service_id::text, name, interval_s, grace_s, key FROM heartbeats"
                                " ORDER BY created_at, id"):
        heartbeats.setdefault(row["service_id"], []).append(
            Heartbeat(row["name"], row["interval_s"], row["grace_s"], row["key"]))
    windows: dict[str, list[MaintenanceWindow]] = {}
    for row in await conn.fetch("SELECT service_id::text, starts_at, ends_at, reason FROM maintenance_windows"
                                " ORDER BY starts_at, id"):
        windows.setdefault(row["service_id"], []).append(
            MaintenanceWindow(row["starts_at"], row["ends_at"], row["reason"]))
    rows = await conn.fetch("SELECT id::text, name, team_id::text, description, escalation_policy_id::text AS policy,"
                            " urgency, auto_resolve_minutes, max_unacknowledged FROM services ORDER BY created_at, id")
    services = []
    for row in rows:
        services.append(Service(
            name=row["name"], team=_name(names.teams, row["team_id"]), description=row["description"],
            escalation_policy=_name(names.policies, row["policy"]), urgency=row["urgency"],
            auto_resolve_minutes=row["auto_resolve_minutes"], max_unacknowledged=row["max_unacknowledged"],
            integrations=tuple(integrations.get(row["id"], ())), heartbeats=tuple(heartbeats.get(row["id"], ())),
            rules=await _rules(conn, "kind = 'service' AND service_id = $1::uuid", row["id"], names),
            maintenance_windows=tuple(windows.get(row["id"], ())),
        ))
    return tuple(services)


async def _routers(conn: asyncpg.Connection, names: Names) -> tuple[Router, ...]:
    rows = await conn.fetch("SELECT id::text, name, team_id::text, key, config::text FROM integrations"
                            " WHERE type = 'router' AND revoked_at IS NULL ORDER BY created_at, id")
    routers = []
    for row in rows:
        config = orjson.loads(row["config"])
        routers.append(Router(
            name=row["name"], format=config["format"], catch_all=_routed(config["catch_all"], names),
            team=_name(names.teams, row["team_id"]), key=row["key"],
            rules=await _rules(conn, "kind = 'router' AND integration_id = $1::uuid", row["id"], names),
        ))
    return tuple(routers)


def _routed(spec: Mapping[str, Any], names: Names) -> dict[str, Any]:
    """A rule (or catch-all) with the service it routes to named."""
    if "route_to" not in spec:
        return dict(spec)
    return {**spec, "route_to": names.services.get(spec["route_to"], spec["route_to"])}


async def _rules(conn: asyncpg.Connection, where: str, owner: str | None, names: Names) -> tuple[dict[str, Any], ...]:
    args = () if owner is None else (owner,)
    rows = await conn.fetch(f"SELECT spec::text FROM rules WHERE {where} ORDER BY position", *args)
    specs = (orjson.loads(row["spec"]) for row in rows)
    return tuple(_routed({key: value for key, value in spec.items() if key != "id"}, names) for spec in specs)
