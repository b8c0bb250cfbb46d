"""A person's command on one incident, sent to the shard that owns the incident's service, as
every change to an incident is (so it is in the incident log and on the live stream)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import HTTPException

from tocsin.actors.domain.events import Command, IncidentCommand
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.store import incidents as store
from tocsin.serve.runtime import GatewayRuntime


async def send_command(
    runtime: GatewayRuntime, incident_id: int, action: Command, actor: str, command_id: str | None = None,
    **arguments: Any,
) -> tuple[IncidentCommand, Reply]:
    """The command as sent and the shard's reply; a 404 when there is no such incident.
    `command_id`: one derived from the request, so that the shard applies a request sent
    again no second time; a new one by default."""
    async with runtime.database.connection() as conn:
        service_id = await store.service_of(conn, incident_id)
    if service_id is None:
        raise HTTPException(404, f"no incident with id {incident_id}")
    command = IncidentCommand(
        command_id=command_id or str(uuid.uuid4()), service_id=service_id, incident_id=incident_id,
        action=action, actor=actor, received_at=runtime.now(), **arguments,
    )
    return command, await runtime.shards.submit(command)
