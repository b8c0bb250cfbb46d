"""Delivery as operators see it: each channel's providers and circuit breakers, and the
notifications, dead ones included, with a retry for those. Errors are shown whole to
admins only (actors/domain/redaction.py)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import ray
from fastapi import APIRouter, Depends, HTTPException, Query

from tocsin.actors.domain.channels import CHANNELS, Channel
from tocsin.actors.domain.redaction import for_non_admins
from tocsin.actors.nudger import channel_name
from tocsin.actors.store import notifications as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import Caller, Role, admin_to_change, authenticate
from tocsin.serve.params import Cursor, Int64Id
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

router = APIRouter(tags=["Delivery"], dependencies=[Depends(admin_to_change)])

NotificationStatus = Literal["pending", "sending", "sent", "cancelled", "dead", "bundled"]


@router.get("/api/v1/channels")
async def list_channels(
    caller: Caller = Depends(authenticate), runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Every channel: its providers in failover order with their circuit-breaker state, and
    how many notifications wait, are being sent, or are dead. Where each actor runs, and why
    one does not answer, are for admins."""
    async with runtime.database.connection() as conn:
        counts = await store.counts_by_channel(conn)
    states = await asyncio.gather(*(channel_state(runtime, c) for c in CHANNELS))
    if not caller.has(Role.ADMIN):
        states = [{k: v for k, v in state.items() if k not in _INTERNALS} for state in states]
    return {"channels": [{**state, "notifications": counts.get(c, {})} for c, state in zip(CHANNELS, states)]}


# What a channel's state says of the machinery behind it: process, node, the error it raised.
_INTERNALS = frozenset({"pid", "node_id", "why"})


async def channel_state(runtime: GatewayRuntime, channel: str) -> dict[str, Any]:
    try:
        # In a thread: Ray's lookup blocks its caller, and the gateway's event loop with it.
        handle = await asyncio.to_thread(ray.get_actor, channel_name(channel), namespace=runtime.settings.namespace)
    except ValueError:
        return {"channel": channel, "running": False, "providers": [],
                "note": "no provider is configured for this channel: its notifications wait"}
    try:
        stats: dict[str, Any] = await asyncio.wait_for(handle.stats.remote(), 5.0)
    except (asyncio.TimeoutError, ray.exceptions.RayError) as exc:
        return {"channel": channel, "running": False, "providers": [], "note": "not answering", "why": repr(exc)}
    return {**stats, "running": True}


@router.get("/api/v1/notifications")
async def list_notifications(
    status: NotificationStatus | None = None,
    channel: Channel | None = None,
    cursor: Cursor | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=500),
    caller: Caller = Depends(authenticate),
    db: Database = Depends(get_database),
) -> dict[str, Any]:
    """Newest first; `status=dead` lists what could not be delivered, with its last error."""
    async with db.connection() as conn:
        rows = await store.list_notifications(conn, status=status, channel=channel, before_id=cursor,
                                              limit=limit + 1)
    more = len(rows) > limit
    rows = [as_seen_by(caller, row) for row in rows[:limit]]
    return {"notifications": rows, "next_cursor": rows[-1]["id"] if more else None}


@router.get("/api/v1/notifications/{notification_id}")
async def get_notification(
    notification_id: Int64Id, caller: Caller = Depends(authenticate), db: Database = Depends(get_database),
) -> dict[str, Any]:
    """One notification; `attempts` counts its rounds, `delivery_attempts` lists every try:
    provider, time, outcome, provider message id, error."""
    async with db.connection() as conn:
        row = await store.get_notification(conn, notification_id)
    if row is None:
        raise HTTPException(404, f"no notification with id {notification_id}")
    return as_seen_by(caller, row)


@router.post("/api/v1/notifications/{notification_id}/retry")
async def retry_notification(notification_id: Int64Id, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """Send a dead notification again, through every provider, from now."""
    async with runtime.database.connection() as conn:
        before = await store.retry_dead(conn, notification_id, runtime.now())
        if before is None:
            raise HTTPException(404, f"no notification with id {notification_id}")
        if before != "dead":
            raise HTTPException(409, f"notification {notification_id} is {before}; only a dead one is retried")
        row = await store.get_notification(conn, notification_id)
    assert row is not None
    # Once committed: a nudged channel that looked before would not see the notification.
    runtime.database.after_commit(lambda: runtime.channels.nudge([row["channel"]]))
    return row


def as_seen_by(caller: Caller, notification: dict[str, Any]) -> dict[str, Any]:
    """The notification with its errors as `caller` may read them: whole for an admin; for
    anyone else without what they would tell of the destination's network."""
    if caller.has(Role.ADMIN):
        return notification
    shown = {**notification, "last_error": for_non_admins(notification.get("last_error"))}
    if "delivery_attempts" in notification:
        shown["delivery_attempts"] = [{**attempt, "error": for_non_admins(attempt["error"])}
                                      for attempt in notification["delivery_attempts"]]
    return shown
