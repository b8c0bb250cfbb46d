"""Notes on an incident: a line of a person's text on its timeline.

Added through the shard that owns the incident's service, like every other change to it,
so the note is in the incident log and on the live stream.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from tocsin.actors.domain.events import Command
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.domain.accounts.access import Action
from tocsin.serve.api.auth import Caller, require_viewer
from tocsin.serve.api.ownership import incident_guard
from tocsin.serve.api.commands import send_command
from tocsin.serve.api.incident_models import NoteIn
from tocsin.serve.api.models import TimelineEntry
from tocsin.serve.params import Int64Id
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/incidents", tags=["Incidents"])


@router.post("/{incident_id}/notes", status_code=201, response_model=TimelineEntry,
             dependencies=[Depends(incident_guard(Action.RESPOND))])
async def add_note(
    incident_id: Int64Id, body: NoteIn, caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Add a note to an open incident's timeline (kind "note", by the caller); the entry."""
    command, reply = await send_command(runtime, incident_id, Command.NOTE, caller.name, text=body.text)
    if reply.outcome == Outcome.INVALID.value:
        raise HTTPException(422, f"cannot add a note to incident {incident_id}: {reply.note}")
    if reply.outcome != Outcome.NOTED.value:
        raise HTTPException(409, f"cannot add a note to incident {incident_id}: it is resolved")
    return {"at": command.received_at, "kind": "note", "actor": caller.name, "message": body.text}
