"""The gateway's app in-process, on a database of the test's choosing and with settings of
its own, reached through httpx's ASGI transport: for behaviour the shared test deployment's
settings do not have. No Ray."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tocsin.actors.settings import Settings
from tocsin.serve.app import create_api
from tocsin.serve.runtime import GatewayRuntime, install


@asynccontextmanager
async def gateway(database_url: str, admin_token: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    runtime = GatewayRuntime(Settings(admin_token=admin_token, **settings), database_url)
    install(runtime)  # as the deployment's constructor does: the app's body limits read its settings
    app = create_api()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin") as http:
            yield http
    finally:
        await runtime.database.close()
