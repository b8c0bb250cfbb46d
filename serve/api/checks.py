"""Acknowledging a reachability check, from the link in its test page.

The token in the link is the credential (single use, kept hashed): no session is needed,
so the person can answer from the phone the page reached. Opening the link shows a page
with a button; only the POST acknowledges, so a link previewer fetching the URL does not
answer for the person.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from tocsin.actors.store import handoffs as store
from tocsin.serve.dashboard import SECURITY_HEADERS
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/checks", tags=["Schedules"])

Token = Path(min_length=16, max_length=100, description="The token from the test page's link")


class Acknowledged(BaseModel):
    check_id: str
    schedule_id: str
    shift_start: datetime
    status: Literal["acknowledged"]
    acknowledged_at: datetime


_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No check has this token"},
    409: {"description": "The check was missed (its shift started) or cancelled"},
    410: {"description": "The check was acknowledged already: the token is used"},
}


@router.get("/{token}", response_class=HTMLResponse, responses={200: {"content": {"text/html": {}}}})
async def check_page(token: str = Token) -> HTMLResponse:
    """A page with a button that acknowledges the check."""
    action = html.escape(f"/api/v1/checks/{token}", quote=True)
    page = ("<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            "<title>Tocsin reachability check</title></head><body><h1>Reachability check</h1>"
            "<p>Confirm that you can be reached for your coming on-call shift.</p>"
            f"<form method=post action='{action}'><button type=submit>I can be reached</button></form></body></html>")
    return HTMLResponse(page, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


@router.post("/{token}", response_model=Acknowledged, responses=_ANSWERS)
async def acknowledge(token: str = Token, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """Acknowledge the check: the person can be reached. Once only, and before the shift starts."""
    async with runtime.database.connection() as conn:
        check = await store.acknowledge(conn, token, runtime.now())
    if check is None:
        raise HTTPException(404, "no reachability check has this token")
    if check["before"] == "acknowledged":
        raise HTTPException(410, "this reachability check was acknowledged already")
    if check["before"] != "waiting":
        raise HTTPException(409, f"this reachability check is {check['before']}: it can no longer be acknowledged")
    return {"check_id": check["id"], "schedule_id": check["schedule_id"], "shift_start": check["shift_start"],
            "status": "acknowledged", "acknowledged_at": check["acknowledged_at"]}
