"""Heartbeat pings: `POST` or `GET /api/v1/heartbeats/{key}/ping`.

No bearer token: the key in the URL is the credential, as an integration key is, so a
cron job can ping with nothing but `curl`. A ping moves the heartbeat's deadline to now +
interval + grace. A ping that comes after the deadline resolves the heartbeat's incident
first and answers only once that is durable (503 with Retry-After otherwise, the
heartbeat left as it was, so the next ping tries again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from tocsin.actors.domain import heartbeat
from tocsin.actors.heartbeats import Shards
from tocsin.actors.routing_keys import TooManyUnknownKeys
from tocsin.actors.store import heartbeats as store
from tocsin.actors.store.services import ROUTING_KEY_ALPHABET, ROUTING_KEY_LENGTH, is_routing_key
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(tags=["Heartbeats"])

NOT_A_KEY = f"a heartbeat key is {ROUTING_KEY_LENGTH} characters of {ROUTING_KEY_ALPHABET}"

PING_PATH = "/api/v1/heartbeats/{key}/ping"


class PingOut(BaseModel):
    status: Literal["ok"]
    expires_at: datetime


_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no heartbeat has this key"},
    429: {"description": "too many unknown keys from this address; see Retry-After"},
}


@router.post(PING_PATH, response_model=PingOut, summary="Ping a heartbeat", responses=_REFUSALS)
@router.get(PING_PATH, response_model=PingOut, summary="Ping a heartbeat", responses=_REFUSALS)
async def ping(key: str, request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """Keys that cannot be a heartbeat's are refused without a lookup, and each client
    address may try only so many unknown keys (as with integration keys)."""
    if not is_routing_key(key):
        raise HTTPException(404, f"no heartbeat has this key: {NOT_A_KEY}")

    async def lookup() -> datetime | None:
        async with runtime.database.connection() as conn:
            return await record_ping(conn, runtime.shards, key, runtime.now())

    try:
        expires_at = await runtime.key_gate.within_budget(key, lambda: runtime.client_address(request), lookup)
    except TooManyUnknownKeys as exc:
        raise HTTPException(429, f"too many unknown heartbeat keys from this address; retry in {exc.retry_after_s} s",
                            headers={"Retry-After": str(exc.retry_after_s)}) from None
    if expires_at is None:
        raise HTTPException(404, "no heartbeat has this key")
    return {"status": "ok", "expires_at": expires_at}


async def record_ping(conn: asyncpg.Connection, shards: Shards, key: str, now: datetime) -> datetime | None:
    """Record a ping of the heartbeat with this key; its new deadline, or None for an
    unknown key. The row stays locked until the resolve is durable: a monitor raising the
    same heartbeat meanwhile either finishes first (and the resolve closes its incident)
    or skips the row. Raises what `shards.submit` raises when the resolve is not durable."""
    async with conn.transaction():
        beat = await store.lock_by_key(conn, key)
        if beat is None:
            return None
        if heartbeat.recovers(beat, now):
            await shards.submit(heartbeat.recovered(beat, now))
        expires_at = heartbeat.deadline(now, beat.interval_s, beat.grace_s)
        await store.pinged(conn, beat.id, now, expires_at)
    return expires_at
