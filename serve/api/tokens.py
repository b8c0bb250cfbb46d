"""Personal API tokens: `Authorization: Bearer tcs_…` acts as the token's owner, with the
owner's roles. The token is shown once, when made; only its digest is kept. A token works
until revoked, or until the expiry it was made with (then 401).

A token made with `team_id` and `role` is limited to that team: it acts as a viewer
everywhere else, and in that team with `role`, which may not be above the owner's role there
(403), nor ever acts above it later (actors/domain/accounts/access.py, `narrowed`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tocsin.actors.domain.accounts.access import Role, token_limit_refusal
from tocsin.actors.domain.accounts.credentials import digest, new_api_token, shown_part
from tocsin.actors.store import api_tokens as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import Caller, require_viewer
from tocsin.serve.api.models import Name
from tocsin.serve.api.models import Role as RoleName
from tocsin.serve.api.ownership import known_team
from tocsin.serve.api.schedule_models import Instant
from tocsin.serve.errors import deleted, invalid
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

router = APIRouter(prefix="/api/v1/tokens", tags=["Session"])


MAX_DAYS = 3650


class TokenIn(BaseModel):
    """No expiry: the token works until revoked."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    expires_at: Instant | None = Field(None, description="Refused from this instant on (with its UTC offset)")
    expires_in_days: int | None = Field(None, ge=1, le=MAX_DAYS, description="Refused this many days from now on")
    team_id: uuid.UUID | None = Field(None, description="Limit the token to this team (with `role`)")
    role: RoleName | None = Field(None, description="The token's role in `team_id`, at most the owner's there")

    @model_validator(mode="after")
    def _one_expiry(self) -> TokenIn:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        if (self.team_id is None) != (self.role is None):
            raise ValueError("give team_id and role together, to limit the token to a role in a team")
        return self

    def expiry(self, now: datetime) -> datetime | None:
        """When the token stops working; a 422 for an instant that is not in the future."""
        if self.expires_in_days is not None:
            return now + timedelta(days=self.expires_in_days)
        if self.expires_at is not None and self.expires_at <= now:
            raise invalid(("expires_at", f"must be in the future; it is {now.isoformat()} now"))
        return self.expires_at


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = Field(description="Refused from then on; null: until revoked")
    team_id: str | None = Field(description="The team the token is limited to; null: not limited")
    team_role: RoleName | None = Field(description="Its role in that team")


class NewTokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    token: str
    created_at: datetime
    expires_at: datetime | None
    team_id: str | None
    team_role: RoleName | None


class TokenList(BaseModel):
    tokens: list[TokenOut]


@router.post("", status_code=201, response_model=NewTokenOut)
async def create_token(
    body: TokenIn, caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """A new token for the caller; `token` is in this answer only. A token limited to a team
    is made with the owner's whole roles, not by another limited token."""
    user_id = _owner(caller)
    if caller.limited_to is not None:
        raise HTTPException(403, f"this token is limited to team {caller.limited_to}: tokens are made with the"
                                 " owner's whole access (a session, or a token not limited to a team)")
    team_id = str(body.team_id) if body.team_id else None
    if team_id is not None and body.role is not None:
        refusal = token_limit_refusal(caller, team_id, Role(body.role))
        if refusal:
            raise HTTPException(403, refusal)
    now = runtime.now()
    expires_at = body.expiry(now)
    token = new_api_token()
    async with runtime.database.connection() as conn:
        with known_team(team_id):
            row = await store.create(conn, user_id, body.name, shown_part(token), digest(token), now, expires_at,
                                     team_id, body.role)
    return {**row, "token": token}


@router.get("", response_model=TokenList)
async def list_tokens(
    caller: Caller = Depends(require_viewer), db: Database = Depends(get_database)
) -> dict[str, Any]:
    """The caller's tokens that are not revoked, oldest first; expired ones too, with their expiry."""
    user_id = _owner(caller)
    async with db.connection() as conn:
        return {"tokens": await store.list_live(conn, user_id)}


@router.delete("/{token_id}", status_code=204, response_class=Response)
async def revoke_token(
    token_id: uuid.UUID, caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> Response:
    """Revoke one of the caller's tokens: it is refused (401) from now on."""
    user_id = _owner(caller)
    async with runtime.database.connection() as conn:
        done = await store.revoke(conn, user_id, str(token_id), runtime.now())
    return deleted(done, f"token {token_id} of {caller.name}")


def _owner(caller: Caller) -> str:
    if caller.user_id is None:
        raise HTTPException(403, "personal tokens belong to a user, and the admin token is nobody's:"
                                 " log in as a user to manage them")
    return caller.user_id
