"""Router integrations: integrations of no service, whose routes (routing rules of kind
router, serve/api/rules.py) send each alert to a service by its content, and whose catch-all
takes what no route matched.

A router takes one format, read as that format's service integrations read it; its source
sends to the format's address with the router's key (serve/ingest/formats.py). Its options
are `{"format", "catch_all"}`. The key is a credential: any role lists routers, admins alone
see their keys and addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query

from tocsin.actors.domain.accounts.access import Caller, Role
from tocsin.actors.domain.rules import RuleErrors
from tocsin.actors.rulebook import compile_router
from tocsin.actors.store import rules as rule_store
from tocsin.actors.store import services as store
from tocsin.serve.api.auth import admin_to_change
from tocsin.serve.api.rule_models import (
    CatchAll,
    RouterIntegrationIn,
    RouterIntegrationList,
    RouterIntegrationOut,
    RouterIntegrationPatch,
)
from tocsin.serve.api.rules import check_service
from tocsin.serve.errors import found, invalid
from tocsin.serve.ingest.formats import BY_KIND
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/integrations", tags=["Router integrations"],
                   dependencies=[Depends(admin_to_change)])


@router.post("", status_code=201, response_model=RouterIntegrationOut)
async def create_router(body: RouterIntegrationIn, runtime: GatewayRuntime = Depends(get_runtime),
                        caller: Caller = Depends(admin_to_change)) -> dict[str, Any]:
    """A router integration with a new key; the answer says where its source sends."""
    config = {"format": body.format, "catch_all": body.catch_all.options()}
    async with runtime.database.connection() as conn, conn.transaction():
        await _check_catch_all(conn, "", config, [])
        row = await store.create_integration(conn, None, "router", body.name, config)
    return _shown(row, caller, runtime)


@router.get("", response_model=RouterIntegrationList)
async def list_routers(
    kind: Literal["router"] = Query("router", alias="type", description="only router integrations are listed here"),
    runtime: GatewayRuntime = Depends(get_runtime), caller: Caller = Depends(admin_to_change),
) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        rows = await store.router_integrations(conn)
    return {"integrations": [_shown(row, caller, runtime) for row in rows]}


@router.patch("/{integration_id}", response_model=RouterIntegrationOut)
async def update_router(integration_id: uuid.UUID, body: RouterIntegrationPatch,
                        runtime: GatewayRuntime = Depends(get_runtime),
                        caller: Caller = Depends(admin_to_change)) -> dict[str, Any]:
    """Rename it, or give it another catch-all (checked with its routes)."""
    async with runtime.database.connection() as conn, conn.transaction():
        integration = found(await store.get_router_integration(conn, str(integration_id)),
                            f"router integration with id {integration_id}")
        config = None
        if body.catch_all is not None:
            await rule_store.lock_set(conn, "router", integration["id"])
            config = {**integration["config"], "catch_all": body.catch_all.options()}
            routes = await rule_store.list_rules(conn, "router", integration["id"])
            await _check_catch_all(conn, integration["id"], config, [rule["spec"] for rule in routes])
        row = found(await store.update_router_integration(conn, integration["id"], body.name, config),
                    f"router integration with id {integration_id}")
    runtime.keys.forget(row["key"])  # the key's cached options are those of before
    return _shown(row, caller, runtime)


@router.delete("/{integration_id}", response_model=RouterIntegrationOut)
async def revoke_router(integration_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime),
                        caller: Caller = Depends(admin_to_change)) -> dict[str, Any]:
    """Revoke the router integration: its key is refused from now on."""
    async with runtime.database.connection() as conn:
        row = found(await store.revoke_router_integration(conn, str(integration_id)),
                    f"router integration with id {integration_id}")
    runtime.keys.forget(row["key"])
    return _shown(row, caller, runtime)


async def _check_catch_all(conn: asyncpg.Connection, integration_id: str, config: Mapping[str, Any],
                           routes: list[Any]) -> None:
    """The catch-all compiles with the routes (422 naming each problem), and names a service."""
    try:
        compile_router(integration_id, config, routes)
    except RuleErrors as exc:
        raise invalid(*((problem.path, problem.message) for problem in exc.problems)) from None
    catch_all = CatchAll.model_validate(config["catch_all"])
    if catch_all.route_to is not None:
        await check_service(conn, catch_all.route_to, "catch_all.route_to")


def _shown(row: Mapping[str, Any], caller: Caller, runtime: GatewayRuntime) -> dict[str, Any]:
    """The integration as `caller` may see it: its key and address to admins only."""
    config = row["config"]
    admin = caller.has(Role.ADMIN)
    address = BY_KIND[config["format"]].address_of(row["key"], runtime.settings)
    return {**row, "service_id": None, "format": config["format"], "catch_all": config.get("catch_all", {}),
            "key": row["key"] if admin else None, "url": address if admin else None}
