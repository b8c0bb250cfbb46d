"""`GET /healthz`: ok or not for anyone; what is running and what is not ready, and why, only
with the admin token."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tocsin.actors.settings import Settings
from tocsin.serve.api import health
from tocsin.serve.errors import install_handlers
from tocsin.serve.runtime import GatewayRuntime, get_runtime

ADMIN_TOKEN = "an-admin-token-of-32-characters-"


def test_without_the_admin_token_it_says_ok_and_nothing_more(anonymous: httpx.Client, admin_token: str) -> None:
    plain = anonymous.get("/healthz")
    wrong = anonymous.get("/healthz", headers={"Authorization": "Bearer " + "x" * 40})
    detailed = anonymous.get("/healthz", headers={"Authorization": f"Bearer {admin_token}"})

    assert (plain.status_code, plain.json()) == (200, {"status": "ok"})
    assert (wrong.status_code, wrong.json()) == (200, {"status": "ok"})
    assert (detailed.status_code, detailed.json()) == (200, {"status": "ok", "shards": 2})


async def test_not_ready_names_the_database_only_to_the_admin_token() -> None:
    """A database that does not answer: a 503 for everyone, and its address and error for the operator."""
    app = FastAPI()
    install_handlers(app)
    app.include_router(health.router)
    runtime = GatewayRuntime(Settings(admin_token=ADMIN_TOKEN), "postgresql://tocsin@127.0.0.1:1/tocsin")
    app.dependency_overrides[get_runtime] = lambda: runtime

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin") as client:
        plain = await client.get("/healthz")
        detailed = await client.get("/healthz", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert plain.status_code == detailed.status_code == 503
    assert plain.headers["Retry-After"] and plain.json() == {"error": "unavailable", "message": "not ready"}
    assert "database not ready" in detailed.json()["message"] and "Connect" in detailed.json()["message"]
