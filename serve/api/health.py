"""`GET /healthz`: 200 once ingestion and the API can do their work.

Anyone may ask (load balancers and probes send no credentials), so the plain answer says
only ok or not: `{"status": "ok"}`, or a 503. With the admin token as a bearer, it also says
how many shards answer, and what is not ready and why, which names internals (the
database's address, Ray's errors) that are for operators only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tocsin.actors.domain.accounts.credentials import same_secret
from tocsin.serve.errors import json_response, unavailable
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(tags=["Health"])

_bearer = HTTPBearer(auto_error=False, description="The admin token, for the details; none is needed")


@router.get("/healthz")
async def healthz(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> Response:
    operator = credentials is not None and same_secret(credentials.credentials, runtime.settings.admin_token or "")
    try:
        async with runtime.database.connection(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return unavailable(f"database not ready: {exc!r}" if operator else "not ready")
    try:
        shards = await runtime.shards.stats()
    except Exception as exc:  # noqa: BLE001
        return unavailable(f"shards not ready: {exc!r}" if operator else "not ready")
    return json_response(200, {"status": "ok", "shards": len(shards)} if operator else {"status": "ok"})
