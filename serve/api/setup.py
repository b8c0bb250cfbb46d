"""Creating the first admin from a browser, through the one-time link `tocsin up` prints when
nobody can log in (tocsin.actors.domain.accounts.setup holds its rules).

`GET /ui/setup?token=…` is the page with the form; `POST /api/v1/setup` creates the admin and
spends the link. The token is the credential: there is no session yet, so no CSRF token
either. Attempts count as logins do (serve/logins.py), against the e-mail address given and
the client's address, so a link cannot be guessed at any speed. Once the link is used or
expired, or anyone can log in, both answer 410 saying so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.actors.domain.accounts import setup
from tocsin.actors.domain.accounts.credentials import digest
from tocsin.actors.domain.accounts.lockout import account_key
from tocsin.actors.domain.audit import Actor
from tocsin.actors.store import accounts, setup_tokens
from tocsin.serve import logins
from tocsin.serve.api.models import Email, Name, Password, Role
from tocsin.serve.auditing import acting
from tocsin.serve.dashboard import standalone_page
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/setup", tags=["Session"])
page_router = APIRouter(include_in_schema=False)

# Longer than any token Tocsin makes (43 characters); a longer one is not read at all.
_TOKEN_MAX = 128


class SetupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=_TOKEN_MAX, description="the token of the setup link")
    name: Name
    email: Email
    password: Password


class AdminOut(BaseModel):
    id: str
    name: str
    email: str
    role: Role


@page_router.get("/ui/setup")
async def setup_page(
    token: str = Query("", max_length=_TOKEN_MAX), runtime: GatewayRuntime = Depends(get_runtime)
) -> Response:
    """The form, while the link works; else 410 with a page that says why."""
    problem = await _refusal(runtime, token)
    if problem:
        return standalone_page("setup-closed", status=410, message=problem)
    return standalone_page("setup")


@router.post("", status_code=201, response_model=AdminOut, responses={
    410: {"description": "The setup link no longer works: used, expired, or someone can log in already"},
    429: {"description": "too many attempts; see Retry-After"},
})
async def create_first_admin(
    body: SetupIn, request: Request, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Create the first admin with the one-time setup link's token; the link is then spent.
    Log in with the e-mail address and password given (POST /api/v1/session)."""
    settings, db = runtime.settings, runtime.database
    account, address = account_key(body.email), await runtime.client_address(request)
    async with db.connection(apart=True) as conn:  # committed, whatever the request comes to
        # Counted as a failed login until the admin is made (serve/logins.py).
        reservation = await logins.reserve_attempt(conn, settings, account, address, runtime.now)
    problem = await _refusal(runtime, body.token)
    if problem:
        raise HTTPException(410, problem)
    password_hash = await logins.hash_password(body.password)  # slow: before any lock is taken
    async with db.connection() as conn, conn.transaction():
        await setup_tokens.lock(conn)
        problem = await _refusal_in(conn, body.token, runtime.now())  # another request may have won meanwhile
        if problem:
            raise HTTPException(410, problem)
        await accounts.ensure_admin(conn, body.email, body.name, password_hash)
        await setup_tokens.use_all(conn, runtime.now())
        await logins.release(conn, reservation)
        admin = await accounts.find_by_email(conn, body.email)
    assert admin is not None  # made in this very transaction
    acting(request, Actor(admin["id"], admin["name"], "setup-link"))  # the audit log's actor: who made themselves
    return {"id": admin["id"], "name": admin["name"], "email": admin["email"], "role": admin["role"]}


async def _refusal(runtime: GatewayRuntime, token: str) -> str | None:
    async with runtime.database.connection() as conn:
        return await _refusal_in(conn, token, runtime.now())


async def _refusal_in(conn: asyncpg.Connection, token: str, now: datetime) -> str | None:
    """Why `token` cannot create the first admin now; None when it can."""
    found = await setup_tokens.find(conn, digest(token)) if token else None
    return setup.refusal(found, now, await accounts.someone_can_log_in(conn))
