"""Logging in and out: the session cookie the dashboard works with.

`POST` checks the e-mail address and password and sets `tocsin_session` (HttpOnly, so page
scripts cannot read it; SameSite=Strict, so other sites' pages do not send it; Secure
unless TOCSIN_COOKIE_SECURE=false). The answer carries the session's `csrf_token`, which
the dashboard sends back as `X-CSRF-Token` with every change.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.actors.domain.accounts import passwords
from tocsin.actors.domain.accounts.credentials import digest, new_csrf_token, new_session_id
from tocsin.actors.domain.accounts.lockout import account_key
from tocsin.actors.domain.accounts.sessions import SESSION_COOKIE
from tocsin.actors.settings import Settings
from tocsin.actors.store import accounts, login_failures, sessions, teams
from tocsin.serve import logins
from tocsin.serve.api.auth import Session, require_session, session_lifetime
from tocsin.serve.api.models import Role
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/session", tags=["Session"])

WRONG = "the e-mail address or the password is wrong"
PASSWORDS_OFF = ("passwords are switched off here but for break-glass accounts (TOCSIN_LOCAL_PASSWORDS=break-glass):"
                 " sign in with single sign-on")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)


class SessionUser(BaseModel):
    id: str
    name: str
    email: str
    role: Role
    teams: dict[str, Role] = Field(description="the user's role in each of their teams, by team id")


class SessionOut(BaseModel):
    user: SessionUser
    csrf_token: str = Field(description="send it back in the X-CSRF-Token header with every POST, PUT, PATCH "
                                        "and DELETE made with the session cookie")


@router.post("", response_model=SessionOut, responses={401: {"description": WRONG},
                                                       403: {"description": PASSWORDS_OFF},
                                                       429: {"description": "too many failed logins; see Retry-After"}})
async def log_in(
    body: LoginIn, request: Request, response: Response, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Log in with a password. With TOCSIN_LOCAL_PASSWORDS=break-glass, only break-glass users
    may (403 for others, once their password proved right). Failures are limited per account and per client address (by default 5 and
    20 in 15 minutes); past that, 429 with Retry-After, whether or not the password is right.
    Attempts made at once count one by one: no more passwords are checked than the limits
    allow."""
    settings, db = runtime.settings, runtime.database
    account, address = account_key(body.email), await runtime.client_address(request)
    async with db.connection() as conn:
        # Counted as a failure until the password proves right (serve/logins.py).
        await logins.reserve_attempt(conn, settings, account, address, runtime.now)
        user = await accounts.find_by_email(conn, body.email)
    stored = user["password_hash"] if user else None
    # Checked even when there is no such user, so that the answer takes as long.
    matched = await logins.password_matches(stored, body.password)
    if user is None or stored is None or not matched:
        raise HTTPException(401, WRONG)
    # Only after the password proved right, so that the answer tells a guesser nothing.
    if settings.local_passwords == "break-glass" and not user["break_glass"]:
        raise HTTPException(403, PASSWORDS_OFF)
    renewed = await logins.hash_password(body.password) if passwords.needs_rehash(stored) else None
    async with db.connection() as conn, conn.transaction():
        await login_failures.forget_account(conn, account)
        if renewed:
            await accounts.set_password(conn, user["id"], renewed)
        csrf_token = await start_session(conn, runtime, response, user["id"])
        roles = await teams.roles_of(conn, user["id"])
    return _answer(user["id"], user["name"], user["email"], user["role"], roles, csrf_token)


async def start_session(conn: asyncpg.Connection, runtime: GatewayRuntime, response: Response, user_id: str) -> str:
    """Log `user_id` in on `response`: a new session row, its cookie set on the response, and
    its CSRF token returned. Every way of logging in (a password, single sign-on) ends here,
    so sessions are alike however they began."""
    settings, now = runtime.settings, runtime.now()
    session_id, csrf_token = new_session_id(), new_csrf_token()
    lifetime = session_lifetime(settings)
    await sessions.prune(conn, now, now - lifetime.idle)
    await sessions.create(conn, digest(session_id), user_id, csrf_token, now, lifetime.expires_at(now))
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(lifetime.absolute.total_seconds()), path="/",
                        secure=settings.cookie_secure, httponly=True, samesite="strict")
    return csrf_token


@router.get("", response_model=SessionOut, responses={401: {"description": "no session"}})
async def current_session(session: Session = Depends(require_session)) -> dict[str, Any]:
    """Who the session cookie logs in, and its CSRF token (a reloaded page asks for it here)."""
    caller = session.caller
    roles = {team: role.value for team, role in caller.teams.items()}
    return _answer(caller.user_id or "", caller.name, session.email, caller.role.value, roles, session.csrf_token)


@router.delete("", status_code=204, response_class=Response)
async def log_out(
    session: Session = Depends(require_session), runtime: GatewayRuntime = Depends(get_runtime)
) -> Response:
    """End the session (with X-CSRF-Token, like any change) and clear the cookie."""
    async with runtime.database.connection() as conn:
        await sessions.delete(conn, session.id_hash)
    answer = Response(status_code=204)
    _clear_cookie(answer, runtime.settings)
    return answer


def _answer(user_id: str, name: str, email: str, role: str, roles: dict[str, str], csrf_token: str) -> dict[str, Any]:
    return {"user": {"id": user_id, "name": name, "email": email, "role": role, "teams": roles},
            "csrf_token": csrf_token}


def _clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.cookie_secure, httponly=True, samesite="strict")
