"""Who is calling, and may they: the FastAPI dependencies that guard every REST route.

Credentials, the first present wins:
- `Authorization: Bearer <token>`: the admin token (TOCSIN_ADMIN_TOKEN) acts as an admin
  named "admin"; a personal API token (`tcs_…`) acts as its owner, with the owner's roles
  (global and in each team), or, when it was made limited to a team, as its owner narrowed
  to that team and role (actors/domain/accounts/access.py).
- the session cookie `tocsin_session` from `POST /api/v1/session`. A browser sends it on
  its own, so a request made with it that changes something (POST, PUT, PATCH, DELETE)
  must also carry the session's CSRF token in `X-CSRF-Token`.

401: no credentials, or ones that no longer work (an ended session, a revoked, expired or
unknown personal token). 403: credentials without the role needed, a bearer token that is neither
the admin token nor a personal token, or a failed CSRF check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from tocsin.actors.domain.accounts.access import Action, Caller, Role, narrowed
from tocsin.actors.domain.audit import Actor
from tocsin.actors.domain.accounts.credentials import digest, is_api_token, same_secret
from tocsin.actors.domain.accounts.sessions import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, Lifetime, csrf_refusal, worth_touching
from tocsin.actors.settings import Settings
from tocsin.actors.store import api_tokens, sessions
from tocsin.actors.store.teams import team_roles
from tocsin.serve.auditing import acting
from tocsin.serve.runtime import GatewayRuntime, get_runtime

__all__ = [
    "Caller", "Role", "Session", "admin_somewhere_to_change", "admin_to_change", "authenticate", "own_to_change", "refuse_unless_own",
    "require_admin", "require_responder", "require_session", "require_viewer", "session_cookie",
    "session_lifetime",
]

ADMIN = Caller(user_id=None, name="admin", role=Role.ADMIN, via="admin-token")

_bearer = HTTPBearer(auto_error=False, description="The admin token, or a personal API token (tcs_…)")
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                              description="The session cookie set by POST /api/v1/session")


@dataclass(frozen=True, slots=True)
class Session:
    """A live login session and whose it is."""

    id_hash: str
    csrf_token: str
    email: str
    caller: Caller


def session_lifetime(settings: Settings) -> Lifetime:
    return Lifetime(absolute=timedelta(hours=settings.session_hours),
                    idle=timedelta(minutes=settings.session_idle_minutes))


async def authenticate(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    session_id: str | None = Depends(session_cookie),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> Caller:
    """The caller, once their credentials check out; 401 or 403 otherwise. Every guard
    below depends on this one, and FastAPI runs it once per request."""
    if credentials is not None:
        caller = await _by_bearer(credentials.credentials, runtime)
    elif session_id:
        caller = (await _by_session(session_id, request, runtime)).caller
    else:
        raise unauthenticated("credentials are required: Authorization: Bearer <token>,"
                          " or the session cookie from POST /api/v1/session")
    acting(request, Actor.of(caller))  # for the audit log (serve/auditing.py)
    return caller


async def require_viewer(caller: Caller = Depends(authenticate)) -> Caller:
    """Any valid credentials: every role may read."""
    return caller


async def require_responder(caller: Caller = Depends(authenticate)) -> Caller:
    return demanding(caller, Role.RESPONDER)


async def require_admin(caller: Caller = Depends(authenticate)) -> Caller:
    return demanding(caller, Role.ADMIN)


async def admin_to_change(request: Request, caller: Caller = Depends(authenticate)) -> Caller:
    """For routers of things admins manage: any role reads, only an admin changes."""
    if request.method.upper() not in SAFE_METHODS:
        demanding(caller, Role.ADMIN)
    return caller


async def admin_somewhere_to_change(request: Request, caller: Caller = Depends(authenticate)) -> Caller:
    """For routers of what teams own: any role reads; a change needs the admin role globally or
    in some team, before anything is looked up. Each route then checks the team of the very
    object (serve/api/ownership.py)."""
    if request.method.upper() not in SAFE_METHODS and not caller.may_somewhere(Action.MANAGE):
        demanding(caller, Role.ADMIN)
    return caller


async def own_to_change(request: Request, user_id: uuid.UUID, caller: Caller = Depends(authenticate)) -> Caller:
    """For routers under /users/{user_id} of what is a user's own (contact methods,
    notification rules): any role reads; a responder changes their own, an admin anyone's."""
    if request.method.upper() not in SAFE_METHODS:
        refuse_unless_own(caller, user_id, f"what belongs to user {user_id}")
    return caller


async def require_session(
    request: Request,
    session_id: str | None = Depends(session_cookie),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> Session:
    """The session of the cookie (a bearer token is no session): 401 without one."""
    if not session_id:
        raise unauthenticated("no session: log in with POST /api/v1/session")
    return await _by_session(session_id, request, runtime)


def demanding(caller: Caller, role: Role) -> Caller:
    """`caller`, when their role is at least `role`; a 403 naming both otherwise."""
    if not caller.has(role):
        raise HTTPException(403, f"this needs the {role.value} role; {caller.name} has the {caller.role.value} role")
    return caller


def refuse_unless_own(caller: Caller, user_id: object, what: str) -> None:
    """403 unless `caller` may change what belongs to `user_id` (an admin, or that user
    as a responder)."""
    demanding(caller, Role.RESPONDER)
    if not caller.may_change_own(user_id):
        raise HTTPException(403, f"a {caller.role.value} may change only what is their own; {what} is not"
                                 f" {caller.name}'s")


def unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def _by_bearer(token: str, runtime: GatewayRuntime) -> Caller:
    if same_secret(token, runtime.settings.admin_token or ""):
        return ADMIN
    if not is_api_token(token):
        raise HTTPException(403, "this API token is not allowed to do that")
    now = runtime.now()
    # Apart from a request's lent connection (serve/auditing.py): who is calling, and when a
    # credential was last used, stand whatever the request comes to, and the touch must not hold
    # the credential's row locked until the request's change commits.
    async with runtime.database.connection(apart=True) as conn:
        row = await api_tokens.find(conn, digest(token))
        if row is None:
            raise unauthenticated("this personal API token is unknown or revoked")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise unauthenticated(f"this personal API token expired at {row['expires_at'].isoformat()}")
        if row["last_used_at"] is None or worth_touching(row["last_used_at"], now):
            await api_tokens.touch(conn, row["token_id"], now)
    owner = replace(_caller(row, "token"), token_id=row["token_id"])
    if row["limit_team"] is None:
        return owner
    return narrowed(owner, row["limit_team"], Role(row["limit_role"]))


async def _by_session(session_id: str, request: Request, runtime: GatewayRuntime) -> Session:
    now, id_hash = runtime.now(), digest(session_id)
    async with runtime.database.connection(apart=True) as conn:  # as for a token: not the request's change
        row = await sessions.find(conn, id_hash)
        if row is None or session_lifetime(runtime.settings).ended(row["expires_at"], row["last_seen_at"], now):
            raise unauthenticated("the session has ended: log in again with POST /api/v1/session")
        refusal = csrf_refusal(request.method, request.headers.get(CSRF_HEADER), row["csrf_token"])
        if refusal:
            raise HTTPException(403, refusal)
        if worth_touching(row["last_seen_at"], now):
            await sessions.touch(conn, id_hash, now)
    caller = _caller(row, "session")
    return Session(id_hash=id_hash, csrf_token=row["csrf_token"], email=row["email"], caller=caller)


def _caller(row: dict[str, Any], via: str) -> Caller:
    """The user of a session's or a token's row, with their global and team roles."""
    teams = {team: Role(role) for team, role in team_roles(row["teams"]).items()}
    return Caller(user_id=row["user_id"], name=row["name"], role=Role(row["role"]), via=via, teams=teams)
