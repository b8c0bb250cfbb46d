"""Teams and their members: `/api/v1/teams`.

Any role lists and reads teams. Global admins make and delete teams (a team that still owns
something is not deleted: 409 naming what it owns); a team's admins, and global admins,
rename it and set its members' roles (`PUT /{team_id}/members/{user_id}` with a role, which
adds the user or changes their role) or remove members. Who may do what with what a team
owns is actors/domain/accounts/access.py.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict

from tocsin.actors.domain.accounts.access import Action
from tocsin.actors.store import teams as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import admin_somewhere_to_change, require_admin
from tocsin.serve.api.models import Name, Role
from tocsin.serve.api.ownership import guard
from tocsin.serve.errors import answering, deleted, found
from tocsin.serve.runtime import get_database

router = APIRouter(prefix="/api/v1/teams", tags=["Teams"], dependencies=[Depends(admin_somewhere_to_change)])

_TEAM_ADMIN = Depends(guard("team", "team_id", Action.MANAGE))


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class MemberOut(BaseModel):
    user_id: str
    name: str
    email: str
    role: Role


class TeamOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    member_count: int


class TeamDetail(TeamOut):
    members: list[MemberOut]


class TeamList(BaseModel):
    teams: list[TeamOut]


@router.post("", status_code=201, response_model=TeamOut, dependencies=[Depends(require_admin)])
async def create_team(body: TeamIn, db: Database = Depends(get_database)) -> dict[str, Any]:
    """A new team, with no members; names are unique whatever their case."""
    async with db.connection() as conn:
        with _unique(body.name):
            return await store.create_team(conn, body.name)


@router.get("", response_model=TeamList)
async def list_teams(db: Database = Depends(get_database)) -> dict[str, Any]:
    async with db.connection() as conn:
        return {"teams": await store.list_teams(conn)}


@router.get("/{team_id}", response_model=TeamDetail)
async def get_team(team_id: uuid.UUID, db: Database = Depends(get_database)) -> dict[str, Any]:
    async with db.connection() as conn:
        team = found(await store.get_team(conn, str(team_id)), f"team with id {team_id}")
        return {**team, "members": await store.members(conn, str(team_id))}


@router.patch("/{team_id}", response_model=TeamOut, dependencies=[_TEAM_ADMIN])
async def rename_team(team_id: uuid.UUID, body: TeamIn, db: Database = Depends(get_database)) -> dict[str, Any]:
    async with db.connection() as conn:
        with _unique(body.name):
            return found(await store.rename_team(conn, str(team_id), body.name), f"team with id {team_id}")


@router.delete("/{team_id}", status_code=204, dependencies=[Depends(require_admin)])
async def delete_team(team_id: uuid.UUID, db: Database = Depends(get_database)) -> Response:
    """Refused with 409 while the team owns anything: give it to another team first."""
    async with db.connection() as conn:
        try:
            done = await store.delete_team(conn, str(team_id))
        except asyncpg.ForeignKeyViolationError:
            owned = ", ".join(await store.owned_by(conn, str(team_id)))
            raise HTTPException(409, f"team {team_id} still owns {owned}; give them to another team first") from None
    return deleted(done, f"team with id {team_id}")


@router.put("/{team_id}/members/{user_id}", response_model=TeamDetail, dependencies=[_TEAM_ADMIN])
async def set_member(
    team_id: uuid.UUID, user_id: uuid.UUID, body: MemberIn, db: Database = Depends(get_database)
) -> dict[str, Any]:
    """Add the user to the team with `role`, or give them that role in it; the team."""
    async with db.connection() as conn:
        with answering(asyncpg.ForeignKeyViolationError, HTTPException(404, f"no user with id {user_id}")):
            await store.set_member(conn, str(team_id), str(user_id), body.role)
        team = found(await store.get_team(conn, str(team_id)), f"team with id {team_id}")
        return {**team, "members": await store.members(conn, str(team_id))}


@router.delete("/{team_id}/members/{user_id}", status_code=204, dependencies=[_TEAM_ADMIN])
async def remove_member(team_id: uuid.UUID, user_id: uuid.UUID, db: Database = Depends(get_database)) -> Response:
    async with db.connection() as conn:
        done = await store.remove_member(conn, str(team_id), str(user_id))
    return deleted(done, f"member {user_id} of team {team_id}")


def _unique(name: str) -> AbstractContextManager[None]:
    return answering(asyncpg.UniqueViolationError, HTTPException(409, f"a team is already named {name!r}"))
