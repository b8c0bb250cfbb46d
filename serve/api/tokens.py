"""Personal API tokens: `Authorization: Bearer tcs_…` acts as the token's owner, with the
owner's role. The token is shown once, when made; only its digest is kept."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict

from actors.domain.credentials import digest, new_api_token, shown_part
from actors.store import api_tokens as store
from serve.api.auth import Caller, require_viewer
from serve.api.models import Name
from serve.errors import deleted
from serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/tokens", tags=["Session"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class NewTokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    token: str
    created_at: datetime


class TokenList(BaseModel):
    tokens: list[TokenOut]


@router.post("", status_code=201, response_model=NewTokenOut)
async def create_token(
    body: TokenIn, caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """A new token for the caller; `token` is in this answer only."""
    user_id = _owner(caller)
    token = new_api_token()
    async with (await runtime.pool()).acquire() as conn:
        row = await store.create(conn, user_id, body.name, shown_part(token), digest(token), runtime.now())
    return {**row, "token": token}


@router.get("", response_model=TokenList)
async def list_tokens(
    caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """The caller's tokens that are not revoked, oldest first."""
    user_id = _owner(caller)
    async with (await runtime.pool()).acquire() as conn:
        return {"tokens": await store.list_live(conn, user_id)}


@router.delete("/{token_id}", status_code=204, response_class=Response)
async def revoke_token(
    token_id: uuid.UUID, caller: Caller = Depends(require_viewer), runtime: GatewayRuntime = Depends(get_runtime)
) -> Response:
    """Revoke one of the caller's tokens: it is refused (401) from now on."""
    user_id = _owner(caller)
    async with (await runtime.pool()).acquire() as conn:
        done = await store.revoke(conn, user_id, str(token_id), runtime.now())
    return deleted(done, f"token {token_id} of {caller.name}")


def _owner(caller: Caller) -> str:
    if caller.user_id is None:
        raise HTTPException(403, "personal tokens belong to a user, and the admin token is nobody's:"
                                 " log in as a user to manage them")
    return caller.user_id
