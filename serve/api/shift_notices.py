"""Where and when a person hears of their on-call shifts.

Off until the person (or an admin) picks one of their contact methods: nobody is messaged
about shifts unasked. Then they are told `lead_minutes` before a shift starts (0: not in
advance), when it starts, and when it ends, as schedules and overrides change.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from tocsin.actors.store import users as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import own_to_change
from tocsin.serve.errors import found, invalid
from tocsin.serve.runtime import get_database

# Any role reads; a responder changes their own, an admin anyone's.
router = APIRouter(prefix="/api/v1/users/{user_id}", tags=["Users"], dependencies=[Depends(own_to_change)])


class ShiftNotices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_method_id: uuid.UUID | None = Field(
        description="One of the user's contact methods, which gets the notices; null: no shift notices")
    lead_minutes: int = Field(30, ge=0, le=1440, description="How long before a shift starts the user is told;"
                                                             " 0: only when it starts")


class ShiftNoticesOut(BaseModel):
    contact_method_id: str | None
    lead_minutes: int


@router.get("/shift-notices", response_model=ShiftNoticesOut)
async def get_shift_notices(user_id: uuid.UUID, db: Database = Depends(get_database)) -> dict[str, Any]:
    async with db.connection() as conn:
        return found(await store.get_shift_notices(conn, str(user_id)), f"user with id {user_id}")


@router.put("/shift-notices", response_model=ShiftNoticesOut)
async def set_shift_notices(
    user_id: uuid.UUID, body: ShiftNotices, db: Database = Depends(get_database)
) -> dict[str, Any]:
    method = str(body.contact_method_id) if body.contact_method_id is not None else None
    async with db.connection() as conn, conn.transaction():
        found(await store.get_user(conn, str(user_id)), f"user with id {user_id}")
        row = await store.set_shift_notices(conn, str(user_id), method, body.lead_minutes)
    if row is None:
        raise invalid(("contact_method_id", f"user {user_id} has no contact method {body.contact_method_id}"))
    return row
