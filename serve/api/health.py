"""`GET /healthz`: 200 once ingestion and the API can do their work."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from serve.errors import json_response, unavailable
from serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(tags=["Health"])


@router.get("/healthz")
async def healthz(runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    try:
        async with (await runtime.pool()).acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return unavailable(f"database not ready: {exc!r}")
    try:
        shards = await runtime.shards.stats()
    except Exception as exc:  # noqa: BLE001
        return unavailable(f"shards not ready: {exc!r}")
    return json_response(200, {"status": "ok", "shards": len(shards)})
