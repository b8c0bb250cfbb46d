"""The demo phone in the dashboard: /ui/demo-phone shows what `tocsin demo`'s four people
received, and lets an admin answer as them (reply to a text, press a key on a call).

The phone itself runs in the `tocsin demo` process (cluster/demo/phone.py), on loopback; these
routes pass the admin's requests on to it with the secret the demo gave both, and the phone
sends the answers through Tocsin's Twilio webhooks as Twilio does. Without a demo phone in the
settings (any deployment but `tocsin demo`: no variable sets it) every route here is 404, the
page and its script included. None is part of the OpenAPI schema.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.serve import dashboard
from tocsin.serve.api.auth import require_admin
from tocsin.serve.runtime import GatewayRuntime, get_runtime

FOLDER = Path(__file__).parent / "demo_static"
SECRET_HEADER = "X-Demo-Phone-Secret"
ItemId = Annotated[int, PathParam(ge=1, le=10**12)]


async def demo_phone(runtime: GatewayRuntime = Depends(get_runtime)) -> tuple[str, str]:
    """The phone's URL and secret; 404 on a Tocsin that is not the demo (before any login is asked)."""
    settings = runtime.settings
    if settings.demo_phone_url is None or settings.demo_phone_secret is None:
        raise HTTPException(404, "there is a demo phone only in `tocsin demo`")
    return settings.demo_phone_url, settings.demo_phone_secret.get_secret_value()


pages = APIRouter(include_in_schema=False, dependencies=[Depends(demo_phone)])
# The API asks for an admin first, as every route of the API does, and is 404 to the admin
# outside the demo.
api = APIRouter(prefix="/api/v1/demo-phone", include_in_schema=False,
                dependencies=[Depends(require_admin), Depends(demo_phone)])


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=1600, description="The text sent back, such as 3a")


class KeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digits: str = Field(pattern=r"^[0-9*#]{1,8}$", description="The keys pressed, such as 4")


@pages.get("/ui/demo-phone")
async def page() -> Response:
    """The page, in the dashboard's layout (a shell: its script reads the phone as the admin)."""
    return dashboard.page_response(dashboard.render(_file("demo-phone.html"), section="demo-phone",
                                                    title="Demo phone", module="/ui/demo-phone/phone.js"))


@pages.get("/ui/demo-phone/phone.js")
async def script() -> Response:
    return Response(_file("demo-phone.js"), media_type="text/javascript",
                    headers={**dashboard.SECURITY_HEADERS, "Cache-Control": "no-cache"})


@api.get("")
async def inbox(phone: tuple[str, str] = Depends(demo_phone)) -> Response:
    """Each person with what they received, newest first."""
    return await _relay(phone, "GET", "/inbox")


@api.post("/texts/{item_id}/reply")
async def reply(item_id: ItemId, body: ReplyIn, phone: tuple[str, str] = Depends(demo_phone)) -> Response:
    """The person texts `body` back to Tocsin's number, as the answer to that text."""
    return await _relay(phone, "POST", f"/texts/{item_id}/reply", body.model_dump())


@api.post("/calls/{item_id}/keys")
async def keys(item_id: ItemId, body: KeysIn, phone: tuple[str, str] = Depends(demo_phone)) -> Response:
    """The person picks up the call, if not yet, and presses `digits`."""
    return await _relay(phone, "POST", f"/calls/{item_id}/keys", body.model_dump())


async def _relay(phone: tuple[str, str], method: str, path: str, body: dict[str, Any] | None = None) -> Response:
    url, secret = phone
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.request(method, url + path, json=body, headers={SECRET_HEADER: secret})
        content = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise HTTPException(502, f"the demo phone did not answer: {type(exc).__name__}") from None
    return JSONResponse(content, status_code=answer.status_code)


@lru_cache(maxsize=None)  # keyed by the two names above, never by a URL
def _file(name: str) -> str:
    return (FOLDER / name).read_text(encoding="utf-8")
