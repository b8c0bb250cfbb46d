"""Escalation policies: who to page at each level, and how long to wait before the next one.

A policy belongs to a team (`team_id`) or to none; its team's admins and global admins change
it (serve/api/ownership.py). A replacement that leaves `team_id` out keeps the team."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response

from tocsin.actors.domain.definitions import policy_from_json
from tocsin.actors.store import policies as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import Caller, admin_somewhere_to_change
from tocsin.serve.api.models import PolicyIn, PolicyList, PolicyOut
from tocsin.serve.api.ownership import TEAM_QUERY, guard, known_team, permit_create, permit_move, team_filter
from tocsin.serve.errors import deleted, found, invalid
from tocsin.serve.runtime import get_database

router = APIRouter(prefix="/api/v1/escalation-policies", tags=["Escalation policies"],
                   dependencies=[Depends(admin_somewhere_to_change), Depends(guard("escalation policy", "policy_id"))])


@router.post("", status_code=201, response_model=PolicyOut)
async def create_policy(
    body: PolicyIn, caller: Caller = Depends(admin_somewhere_to_change), db: Database = Depends(get_database)
) -> dict[str, Any]:
    """Every target must be an existing user or schedule."""
    fields = _checked(body)
    permit_create(caller, "escalation policy", fields["team_id"])
    async with db.connection() as conn:
        await _check_targets(conn, body)
        with known_team(fields["team_id"]):
            return await store.create_policy(conn, **fields)


@router.get("", response_model=PolicyList)
async def list_policies(
    team: str | None = TEAM_QUERY, caller: Caller = Depends(admin_somewhere_to_change),
    db: Database = Depends(get_database),
) -> dict[str, Any]:
    async with db.connection() as conn:
        return {"escalation_policies": await store.list_policies(conn, team_filter(caller, team))}


@router.get("/{policy_id}", response_model=PolicyOut)
async def get_policy(policy_id: uuid.UUID, db: Database = Depends(get_database)) -> dict[str, Any]:
    async with db.connection() as conn:
        return found(await store.get_policy(conn, str(policy_id)), f"escalation policy with id {policy_id}")


@router.put("/{policy_id}", response_model=PolicyOut)
async def replace_policy(
    policy_id: uuid.UUID, body: PolicyIn, caller: Caller = Depends(admin_somewhere_to_change),
    team_id: str | None = Depends(guard("escalation policy", "policy_id")), db: Database = Depends(get_database),
) -> dict[str, Any]:
    """Replace the whole policy; its version grows by one. Incidents page by the new levels from
    their next escalation."""
    fields = _checked(body)
    moved_to = fields.pop("team_id")
    team = (moved_to,) if "team_id" in body.model_fields_set else None
    if team is not None:
        permit_move(caller, team_id, moved_to, f"escalation policy {policy_id}")
    async with db.connection() as conn:
        await _check_targets(conn, body)
        with known_team(moved_to):
            row = await store.replace_policy(conn, str(policy_id), **fields, team=team)
    return found(row, f"escalation policy with id {policy_id}")


@router.delete("/{policy_id}", status_code=204)
async def delete_policy(policy_id: uuid.UUID, db: Database = Depends(get_database)) -> Response:
    """Refused with 409 while a service uses the policy."""
    async with db.connection() as conn:
        try:
            done = await store.delete_policy(conn, str(policy_id))
        except asyncpg.ForeignKeyViolationError:
            services = ", ".join(await store.services_using(conn, str(policy_id)))
            raise HTTPException(409, f"escalation policy {policy_id} is used by the services {services};"
                                     " give them another policy first") from None
    return deleted(done, f"escalation policy with id {policy_id}")


def _checked(body: PolicyIn) -> dict[str, Any]:
    """The stored fields, once the engine's own reading of the levels accepts them."""
    fields = body.model_dump(mode="json")
    try:
        policy_from_json(fields["levels"], fields["repeat"])
    except ValueError as exc:
        raise invalid(("levels", str(exc))) from None
    return fields


async def _check_targets(conn: asyncpg.Connection, body: PolicyIn) -> None:
    targets = [(f"levels.{i}.targets.{j}.id", t.type, str(t.id))
               for i, level in enumerate(body.levels) for j, t in enumerate(level.targets)]
    absent = {("user", id_) for id_ in await store.missing(conn, "users", _ids(targets, "user"))}
    absent |= {("schedule", id_) for id_ in await store.missing(conn, "schedules", _ids(targets, "schedule"))}
    problems = [(where, f"no {kind} with id {id_}") for where, kind, id_ in targets if (kind, id_) in absent]
    if problems:
        raise invalid(*problems)


def _ids(targets: Sequence[tuple[str, str, str]], kind: str) -> set[str]:
    return {id_ for _, of_kind, id_ in targets if of_kind == kind}
