"""Users: who can be paged, in which time zone, and their on-call calendar feed."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response

from tocsin.actors.store import accounts
from tocsin.actors.store import users as store
from tocsin.actors.store.database import Database
from tocsin.serve import logins
from tocsin.serve.api.auth import Caller, admin_to_change
from tocsin.serve.api.models import UserIn, UserList, UserOut, UserPatch, changes_of
from tocsin.serve.errors import answering, deleted, found
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

router = APIRouter(prefix="/api/v1/users", tags=["Users"], dependencies=[Depends(admin_to_change)])


@router.post("", status_code=201, response_model=UserOut)
async def create_user(
    body: UserIn, caller: Caller = Depends(admin_to_change), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """With a `password` the user can log in; without one, not until it is set."""
    password_hash = await logins.hash_password(body.password) if body.password else None
    async with runtime.database.connection() as conn, conn.transaction():
        with _unique_email(body.email):
            row = await store.create_user(conn, **body.model_dump(exclude={"password"}))
        if password_hash:
            await accounts.set_password(conn, row["id"], password_hash)
    return _with_calendar(row, runtime, caller)


@router.get("", response_model=UserList)
async def list_users(
    caller: Caller = Depends(admin_to_change), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Everyone; the calendar feed's URL only on the caller's own user, or on all for an admin."""
    async with runtime.database.connection() as conn:
        return {"users": [_with_calendar(row, runtime, caller) for row in await store.list_users(conn)]}


@router.get("/{user_id}", response_model=UserOut)
async def get_user(
    user_id: uuid.UUID, caller: Caller = Depends(admin_to_change), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        row = found(await store.get_user(conn, str(user_id)), f"user with id {user_id}")
    return _with_calendar(row, runtime, caller)


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: uuid.UUID, body: UserPatch, caller: Caller = Depends(admin_to_change),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Change the fields given; a null leaves its field as it is."""
    changes = changes_of(body)
    async with runtime.database.connection() as conn:
        with _unique_email(changes.get("email")):
            row = await store.update_user(conn, str(user_id), changes)
    return _with_calendar(found(row, f"user with id {user_id}"), runtime, caller)


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: uuid.UUID, db: Database = Depends(get_database)) -> Response:
    """Delete the user with their contact methods, notification rules and schedule overrides."""
    async with db.connection() as conn:
        return deleted(await store.delete_user(conn, str(user_id)), f"user with id {user_id}")


def _unique_email(email: str | None) -> AbstractContextManager[None]:
    return answering(asyncpg.UniqueViolationError, HTTPException(409, f"another user has the e-mail address {email}"))


def _with_calendar(row: dict[str, Any], runtime: GatewayRuntime, caller: Caller) -> dict[str, Any]:
    """The row with its feed's URL in place of the bare token: null for a caller who may not
    see it (the URL opens the feed to whoever has it)."""
    user = {k: v for k, v in row.items() if k != "calendar_token"}
    url = f"{runtime.settings.base_url}/api/v1/users/{row['id']}/oncall.ics?token={row['calendar_token']}"
    return {**user, "calendar_url": url if caller.may_see_secrets_of(row["id"]) else None}
