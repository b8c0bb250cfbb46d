"""The audit log, read: who changed what, newest first, a page at a time or whole as JSON lines.

Global admins read every entry; a team admin reads the entries of the teams they administer
(anything else they name with ?team= gives nothing); any other caller is refused (403). A page
is `limit` entries and `next_cursor`, the cursor of the next (older) page. With
`Accept: application/x-ndjson` or `?format=jsonl` the answer is every matching entry, one JSON
object a line, streamed as it is read: `limit` is then ignored, and `cursor`, when given, says
where it starts.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from tocsin.actors.domain.audit import Query as AuditQuery
from tocsin.actors.domain.audit import readable_teams
from tocsin.actors.store import audit as store
from tocsin.serve.api.auth import Caller, require_viewer
from tocsin.serve.api.instants import instant
from tocsin.serve.params import Cursor, control_character
from tocsin.serve.runtime import GatewayRuntime, get_runtime



class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description='a user id, "admin" (the admin token) or "system"')
    actor_name: str
    via: str = Field(description="session, token:<token id>, admin-token, setup-link, or the channel a page was"
                                 " answered on (push, …)")
    client_address: str | None
    object_type: str
    object_id: str | None
    object_name: str | None
    team_id: str | None = Field(description="the team owning the object; null: no team")
    action: str
    before: Any = Field(description="the object before, as stored, secrets masked; null when it was made")
    after: Any = Field(description="the object after, as stored, secrets masked; null when it is gone")


class AuditEntryList(BaseModel):
    entries: list[AuditEntry]
    next_cursor: str | None


router = APIRouter(prefix="/api/v1/audit", tags=["Audit"])

JSON_LINES = "application/x-ndjson"
_ISO = "ISO 8601 instant with a UTC offset"
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {JSON_LINES: {}}, "description": "A page of entries; or, as JSON lines, every entry"},
    403: {"description": "Neither a global admin nor an admin of any team"},
}


@router.get("", response_model=AuditEntryList, responses=_ANSWERS)
async def audit_log(
    request: Request,
    actor: str | None = Query(None, max_length=200, description="a user id, \"admin\" or \"system\""),
    object_type: str | None = Query(None, max_length=64, description="service, schedule, incident, user, …"),
    object_id: str | None = Query(None, max_length=200),
    team: uuid.UUID | None = Query(None, description="only entries of what this team owns"),
    since: str | None = Query(None, description=f"{_ISO}: entries made at or after it"),
    until: str | None = Query(None, description=f"{_ISO}: entries made before it"),
    limit: int = Query(50, ge=1, le=500),
    cursor: Cursor | None = Query(None, description="next_cursor of the previous page"),
    format: Literal["json", "jsonl"] = Query("json", description="jsonl: every entry as JSON lines, streamed"),
    caller: Caller = Depends(require_viewer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> Any:
    """Entries, newest first, narrowed by every filter given."""
    teams = readable_teams(caller)
    if teams is not None and not teams:
        raise HTTPException(403, f"the audit log needs the admin role, globally or in a team; {caller.name} has"
                                 f" the {caller.role.value} role and administers no team")
    for name, text in (("actor", actor), ("object_type", object_type), ("object_id", object_id)):
        character = control_character(text or "")
        if character:  # Postgres takes no NUL in text: refused here rather than as an outage
            raise HTTPException(400, f"{name}: holds the control character {character}")
    now = runtime.now()
    query = AuditQuery(actor=actor, object_type=object_type, object_id=object_id, team=str(team) if team else None,
                       since=instant("since", since, now) if since else None,
                       until=instant("until", until, now) if until else None, before_id=cursor, teams=teams)
    if format == "jsonl" or JSON_LINES in request.headers.get("accept", ""):
        return StreamingResponse(_lines(runtime, query), media_type=JSON_LINES,
                                 headers={"Content-Disposition": 'attachment; filename="tocsin-audit.jsonl"'})
    async with runtime.database.connection() as conn:
        rows = await store.entries(conn, query, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"entries": rows, "next_cursor": str(rows[-1]["id"]) if more else None}


async def _lines(runtime: GatewayRuntime, query: AuditQuery) -> AsyncIterator[bytes]:
    async with runtime.database.connection() as conn:
        async for row in store.every_entry(conn, query):
            yield orjson.dumps(row) + b"\n"
