"""Setting a password: an admin for anyone, a user for themselves (with the current one).

When a password changes, the user's other login sessions end: whoever might have known the
old one is logged out. Their personal API tokens stay; each is revoked on its own.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.actors.domain.accounts.access import Role
from tocsin.actors.domain.accounts.credentials import digest
from tocsin.actors.domain.accounts.lockout import account_key
from tocsin.actors.domain.accounts.passwords import MAX_LENGTH
from tocsin.actors.store import accounts, sessions
from tocsin.serve import logins
from tocsin.serve.api.auth import Caller, require_viewer, session_cookie
from tocsin.serve.api.models import Password
from tocsin.serve.errors import found, invalid
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/users", tags=["Users"])


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Password
    current_password: str | None = Field(None, max_length=MAX_LENGTH,
                                         description="needed when users change their own password")


@router.put("/{user_id}/password", status_code=204, response_class=Response)
async def set_password(
    user_id: uuid.UUID,
    body: PasswordIn,
    request: Request,
    caller: Caller = Depends(require_viewer),
    session_id: str | None = Depends(session_cookie),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> Response:
    """Set the user's password (8 characters at least). An admin may set anyone's; any
    other user only their own, giving `current_password` (a wrong one counts as a failed
    login)."""
    if not caller.has(Role.ADMIN):
        if not caller.is_user(user_id):
            raise HTTPException(403, f"only an admin may set another user's password; {caller.name} is a"
                                     f" {caller.role.value}")
        await _check_current(str(user_id), body.current_password, request, runtime)
    new_hash = await logins.hash_password(body.password)
    # The session this very request came with stays; every other one of the user's ends.
    keep = digest(session_id) if session_id and caller.via == "session" and caller.is_user(user_id) else None
    async with runtime.database.connection() as conn, conn.transaction():
        if not await accounts.set_password(conn, str(user_id), new_hash):
            raise HTTPException(404, f"no user with id {user_id}")
        await sessions.end_for_user(conn, str(user_id), keep)
    return Response(status_code=204)


async def _check_current(user_id: str, current: str | None, request: Request, runtime: GatewayRuntime) -> None:
    if not current:
        raise invalid(("current_password", "your current password is needed to change it"))
    settings, db = runtime.settings, runtime.database
    address = await runtime.client_address(request)
    async with db.connection(apart=True) as conn:  # committed, whatever the request comes to
        user = found(await accounts.find_by_id(conn, user_id), f"user with id {user_id}")
        # Counted as a failed login until the password proves right (serve/logins.py).
        reservation = await logins.reserve_attempt(conn, settings, account_key(user["email"]), address, runtime.now)
    if not await logins.password_matches(user["password_hash"], current):
        raise HTTPException(403, "current_password is wrong")
    async with db.connection(apart=True) as conn:  # the password proved right, whatever the change comes to
        await logins.release(conn, reservation)
