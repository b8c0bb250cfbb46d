"""Applying a planned configuration document: every change in the caller's one transaction.

Each object the plan creates or changes is written whole from the file (its row, then the
nested lists the file gives); objects it deletes go last, dependants first. Nothing here
decides what changes: that is the plan (actors/domain/config/plan.py). Contact methods made
here are verified: the admin applying the file vouches for their addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import orjson

from tocsin.actors.domain.config.document import (
    Document, EscalationPolicy, Heartbeat, Integration, Router, Rule, Schedule, Service, Team, User, document_data,
)
from tocsin.actors.domain.config.plan import KINDS, Kind, Plan, identity, match_keyed, objects
from tocsin.actors.store import rules as rule_store
from tocsin.actors.store import users as user_store
from tocsin.actors.store.services import new_routing_key

_TABLE: dict[Kind, str] = {"team": "teams", "schedule": "schedules", "escalation_policy": "escalation_policies",
                           "service": "services"}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class Ids:
    """Names to ids, kept up to date as objects are made."""

    def __init__(self) -> None:
        self.of: dict[Kind, dict[str, str]] = {kind: {} for kind in KINDS}

    async def load(self, conn: asyncpg.Connection) -> None:
        for kind, table in _TABLE.items():
            self.of[kind] = {r[1]: r[0] for r in await conn.fetch(f"SELECT id::text, name FROM {table}")}
        self.of["user"] = {r[1].lower(): r[0] for r in await conn.fetch("SELECT id::text, email FROM users")}
        self.of["router"] = {r[1]: r[0] for r in await conn.fetch(
            "SELECT id::text, name FROM integrations WHERE type = 'router' AND revoked_at IS NULL")}

    def user(self, email: str) -> str:
        return self.of["user"][email.lower()]

    def maybe(self, kind: Kind, name: str | None) -> str | None:
        return None if name is None else self.of[kind][name]


async def apply(conn: asyncpg.Connection, desired: Document, plan: Plan, by: str) -> list[str]:
    """Make the deployment what `desired` says, as `plan` found it to differ; the caller holds
    the transaction. The keys of integrations and routers changed, for caches to forget."""
    ids = Ids()
    await ids.load(conn)
    touched: list[str] = []
    for kind in KINDS:
        changed = {*plan.of(kind, "create"), *plan.of(kind, "update")}
        for obj in objects(desired, kind):
            if identity(kind, obj) in changed:
                touched += await _WRITE[kind](conn, obj, ids, by)
    for kind in reversed(KINDS):
        for name in plan.of(kind, "delete"):
            touched += await _delete(conn, kind, ids.of[kind][name])
    return touched


async def _team(conn: asyncpg.Connection, team: Team, ids: Ids, by: str) -> list[str]:
    team_id = ids.of["team"].get(team.name)
    if team_id is None:
        team_id = ids.of["team"][team.name] = str(uuid.uuid4())
        await conn.execute("INSERT INTO teams (id, name) VALUES ($1::uuid, $2)", team_id, team.name)
    if team.members is not None:
        await conn.execute("DELETE FROM team_members WHERE team_id = $1::uuid", team_id)
        await conn.executemany("INSERT INTO team_members (team_id, user_id, role) VALUES ($1::uuid, $2::uuid, $3)",
                               [(team_id, ids.user(m.user), m.role) for m in team.members])
    return []


async def _user(conn: asyncpg.Connection, user: User, ids: Ids, by: str) -> list[str]:
    user_id = ids.of["user"].get(user.email.lower())
    if user_id is None:
        row = await user_store.create_user(conn, user.name, user.email, user.time_zone, user.role)
        user_id = ids.of["user"][user.email.lower()] = row["id"]
    else:
        await conn.execute("UPDATE users SET name = $2, time_zone = $3, role = $4, updated_at = now()"
                           " WHERE id = $1::uuid", user_id, user.name, user.time_zone, user.role)
    if user.contact_methods is None:
        return []
    existing = {(r["kind"], r["address"]): r["id"] for r in await conn.fetch(
        "SELECT id::text, kind, address FROM contact_methods WHERE user_id = $1::uuid AND kind <> 'webpush'", user_id)}
    for method in user.contact_methods:
        method_id = existing.pop((method.kind, method.address), None)
        if method_id is None:
            method_id = (await user_store.create_contact_method(
                conn, user_id, method.kind, method.address, method.label, verified=True))["id"]
        else:
            await conn.execute("UPDATE contact_methods SET label = $2 WHERE id = $1::uuid", method_id, method.label)
            await conn.execute("DELETE FROM notification_rules WHERE contact_method_id = $1::uuid", method_id)
        for rule in method.notification_rules:
            await user_store.create_rule(conn, user_id, method_id, rule.urgency, rule.delay_minutes)
    await conn.execute("DELETE FROM contact_methods WHERE id = ANY($1::uuid[])", list(existing.values()))
    return []


def _layers(schedule: Schedule, ids: Ids) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = document_data(schedule.layers, defaults=True)
    for layer in layers:
        layer.setdefault("restriction", None)
        layer["rotation"]["participants"] = [ids.user(p) for p in layer["rotation"]["participants"]]
    return layers


async def _schedule(conn: asyncpg.Connection, schedule: Schedule, ids: Ids, by: str) -> list[str]:
    values = (schedule.name, schedule.description, schedule.time_zone, _json(_layers(schedule, ids)),
              None if schedule.owner is None else ids.user(schedule.owner), schedule.reachability_check,
              schedule.check_lead_minutes, ids.maybe("team", schedule.team))
    schedule_id = ids.of["schedule"].get(schedule.name)
    if schedule_id is None:
        schedule_id = ids.of["schedule"][schedule.name] = str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO schedules (id, name, description, time_zone, layers, calendar_token, owner_id,"
            " reachability_check, check_lead_minutes, team_id)"
            " VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6, $7::uuid, $8, $9, $10::uuid)",
            schedule_id, *values[:4], user_store.new_calendar_token(), *values[4:])
    else:
        await conn.execute(
            "UPDATE schedules SET name = $2, description = $3, time_zone = $4, layers = $5::jsonb, owner_id = $6::uuid,"
            " reachability_check = $7, check_lead_minutes = $8, team_id = $9::uuid WHERE id = $1::uuid",
            schedule_id, *values)
    if schedule.overrides is not None:
        await conn.execute("DELETE FROM schedule_overrides WHERE schedule_id = $1::uuid", schedule_id)
        # A later override wins over an earlier one it overlaps, and later means created later:
        # within one transaction now() is the same for every row, so each gets its place in the
        # file as microseconds past it.
        await conn.executemany(
            "INSERT INTO schedule_overrides (id, schedule_id, user_id, start_at, end_at, created_at)"
            " VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, now() + $6 * interval '1 microsecond')",
            [(str(uuid.uuid4()), schedule_id, ids.user(o.user), o.start, o.end, place)
             for place, o in enumerate(schedule.overrides)])
    return []


async def _policy(conn: asyncpg.Connection, policy: EscalationPolicy, ids: Ids, by: str) -> list[str]:
    levels = [{"delay_minutes": level.delay_minutes,
               "targets": [{"type": "user", "id": ids.user(t.user)} if t.user is not None
                           else {"type": "schedule", "id": ids.of["schedule"][t.schedule or ""]}
                           for t in level.targets]}
              for level in policy.levels]
    values = (policy.name, policy.description, policy.repeat, _json(levels), ids.maybe("team", policy.team))
    policy_id = ids.of["escalation_policy"].get(policy.name)
    if policy_id is None:
        policy_id = ids.of["escalation_policy"][policy.name] = str(uuid.uuid4())
        await conn.execute("INSERT INTO escalation_policies (id, name, description, repeat, levels, team_id)"
                           " VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6::uuid)", policy_id, *values)
    else:
        await conn.execute("UPDATE escalation_policies SET name = $2, description = $3, repeat = $4,"
                           " levels = $5::jsonb, team_id = $6::uuid WHERE id = $1::uuid", policy_id, *values)
    return []


async def _service(conn: asyncpg.Connection, service: Service, ids: Ids, by: str) -> list[str]:
    values = (service.name, service.description, ids.maybe("escalation_policy", service.escalation_policy),
              service.urgency, service.auto_resolve_minutes, service.max_unacknowledged, ids.maybe("team", service.team))
    service_id = ids.of["service"].get(service.name)
    if service_id is None:
        service_id = ids.of["service"][service.name] = str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO services (id, name, description, escalation_policy_id, urgency, auto_resolve_minutes,"
            " max_unacknowledged, team_id) VALUES ($1::uuid, $2, $3, $4::uuid, $5, $6, $7, $8::uuid)",
            service_id, *values)
    else:
        await conn.execute(
            "UPDATE services SET name = $2, description = $3, escalation_policy_id = $4::uuid, urgency = $5,"
            " auto_resolve_minutes = $6, max_unacknowledged = $7, team_id = $8::uuid, updated_at = now()"
            " WHERE id = $1::uuid", service_id, *values)
    touched = await _integrations(conn, service_id, service.integrations) if service.integrations is not None else []
    if service.heartbeats is not None:
        await _heartbeats(conn, service_id, service.heartbeats)
    if service.maintenance_windows is not None:
        await conn.execute("DELETE FROM maintenance_windows WHERE service_id = $1::uuid", service_id)
        await conn.executemany(
            "INSERT INTO maintenance_windows (id, service_id, starts_at, ends_at, reason)"
            " VALUES ($1::uuid, $2::uuid, $3, $4, $5)",
            [(str(uuid.uuid4()), service_id, w.start, w.end, w.reason) for w in service.maintenance_windows])
    if service.rules is not None:
        await _rule_set(conn, "service", service_id, service.rules, ids, by)
    return touched


async def _integrations(conn: asyncpg.Connection, service_id: str, wanted: Sequence[Integration]) -> list[str]:
    rows = await conn.fetch("SELECT id::text, type, name, key, config::text FROM integrations"
                            " WHERE service_id = $1::uuid AND revoked_at IS NULL", service_id)
    have = {row["id"]: Integration(row["type"], row["name"], row["key"], orjson.loads(row["config"])) for row in rows}
    by_value = {id(value): key for key, value in have.items()}
    touched = []
    for want, found in match_keyed(wanted, list(have.values())):
        if found is None:
            await conn.execute(
                "INSERT INTO integrations (id, service_id, type, name, key, config)"
                " VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6::jsonb)",
                str(uuid.uuid4()), service_id, want.type, want.name, want.key or new_routing_key(), _json(want.config))
        elif want is None:
            await conn.execute("UPDATE integrations SET revoked_at = now() WHERE id = $1::uuid", by_value[id(found)])
            touched.append(found.key or "")
        elif (want.type, want.name, dict(want.config)) != (found.type, found.name, dict(found.config)):
            await conn.execute("UPDATE integrations SET type = $2, name = $3, config = $4::jsonb WHERE id = $1::uuid",
                               by_value[id(found)], want.type, want.name, _json(want.config))
            touched.append(found.key or "")
    return touched


async def _heartbeats(conn: asyncpg.Connection, service_id: str, wanted: Sequence[Heartbeat]) -> None:
    rows = await conn.fetch("SELECT id::text, name, interval_s, grace_s, key FROM heartbeats"
                            " WHERE service_id = $1::uuid", service_id)
    have = {row["id"]: Heartbeat(row["name"], row["interval_s"], row["grace_s"], row["key"]) for row in rows}
    by_value = {id(value): key for key, value in have.items()}
    for want, found in match_keyed(wanted, list(have.values())):
        if found is None:
            await conn.execute("INSERT INTO heartbeats (id, service_id, name, key, interval_s, grace_s)"
                               " VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6)", str(uuid.uuid4()), service_id,
                               want.name, want.key or new_routing_key(), want.interval_seconds, want.grace_seconds)
        elif want is None:
            await conn.execute("DELETE FROM heartbeats WHERE id = $1::uuid", by_value[id(found)])
        else:
            await conn.execute("UPDATE heartbeats SET name = $2, interval_s = $3, grace_s = $4 WHERE id = $1::uuid",
                               by_value[id(found)], want.name, want.interval_seconds, want.grace_seconds)


async def _router(conn: asyncpg.Connection, router: Router, ids: Ids, by: str) -> list[str]:
    config = {"format": router.format, "catch_all": _routed(router.catch_all, ids)}
    router_id = ids.of["router"].get(router.name)
    key = None
    if router_id is None:
        router_id = ids.of["router"][router.name] = str(uuid.uuid4())
        await conn.execute("INSERT INTO integrations (id, type, name, key, config, team_id)"
                           " VALUES ($1::uuid, 'router', $2, $3, $4::jsonb, $5::uuid)", router_id, router.name,
                           router.key or new_routing_key(), _json(config), ids.maybe("team", router.team))
    else:
        key = await conn.fetchval(
            "UPDATE integrations SET config = $2::jsonb, team_id = $3::uuid, key = coalesce($4, key)"
            " WHERE id = $1::uuid RETURNING (SELECT key FROM integrations WHERE id = $1::uuid)",
            router_id, _json(config), ids.maybe("team", router.team), router.key)
    if router.rules is not None:
        await _rule_set(conn, "router", router_id, router.rules, ids, by)
    return [key] if key else []


def _routed(spec: Mapping[str, Any], ids: Ids) -> dict[str, Any]:
    route_to = spec.get("route_to")
    return dict(spec) if route_to is None else {**spec, "route_to": ids.of["service"][route_to]}


async def _inhibit(conn: asyncpg.Connection, rules: Sequence[Rule], ids: Ids, by: str) -> list[str]:
    await _rule_set(conn, "inhibit", None, rules, ids, by)
    return []


async def _rule_set(conn: asyncpg.Connection, kind: rule_store.Kind, owner: str | None, wanted: Sequence[Rule],
                    ids: Ids, by: str) -> None:
    """The set becomes `wanted`, rule by rule in place: a rule whose spec is unchanged keeps its
    id, history and counts."""
    await rule_store.lock_set(conn, kind, owner)
    have = await rule_store.list_rules(conn, kind, owner)
    for position, rule in enumerate(wanted):
        spec = _routed(rule, ids)
        if position < len(have):
            old = have[position]
            if {k: v for k, v in old["spec"].items() if k != "id"} != spec:
                await rule_store.replace_rule(conn, old["id"], {**spec, "id": old["id"]}, by)
        else:
            rule_id = str(uuid.uuid4())
            await rule_store.insert_rule(conn, rule_id, kind, owner, position, {**spec, "id": rule_id}, by)
    for old in have[len(wanted):]:
        await rule_store.delete_rule(conn, old, by)


async def _delete(conn: asyncpg.Connection, kind: Kind, object_id: str) -> list[str]:
    if kind == "router":
        key = await conn.fetchval("UPDATE integrations SET revoked_at = now() WHERE id = $1::uuid RETURNING key",
                                  object_id)
        return [key]
    if kind == "user":
        await conn.execute("DELETE FROM users WHERE id = $1::uuid", object_id)
        return []
    keys = [] if kind != "service" else [r[0] for r in await conn.fetch(
        "SELECT key FROM integrations WHERE service_id = $1::uuid", object_id)]
    await conn.execute(f"DELETE FROM {_TABLE[kind]} WHERE id = $1::uuid", object_id)
    return keys


_WRITE: dict[Kind, Any] = {"team": _team, "user": _user, "schedule": _schedule, "escalation_policy": _policy,
                           "service": _service, "router": _router, "inhibit_rules": _inhibit}
