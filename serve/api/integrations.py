"""Router integrations: integrations of no service, whose routes (routing rules of kind
router, serve/api/rules.py) send each alert to a service by its content, and whose catch-all
takes what no route matched.

A router takes one format, read as that format's service integrations read it; its source
sends to the format's address with the router's key (serve/ingest/formats.py). Its options
are `{"format", "catch_all"}`. A router belongs to a team (`team_id`) or to none, and its
team's admins (and global admins) change it and its routes. The key is a credential: any
role lists routers, those admins alone see their keys and addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query

from tocsin.actors.domain.accounts.access import Action, Caller
from tocsin.actors.domain.rules import RuleErrors
from tocsin.actors.rulebook import compile_router
from tocsin.actors.store import rules as rule_store
from tocsin.actors.store import services as store
from tocsin.serve.api.auth import admin_somewhere_to_change
from tocsin.serve.api.ownership import TEAM_QUERY, guard, known_team, permit_create, permit_move, team_filter
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

_MANAGED = guard("router integration", "integration_id")
router = APIRouter(prefix="/api/v1/integrations", tags=["Router integrations"],
                   dependencies=[Depends(admin_somewhere_to_change), Depends(_MANAGED)])


@router.post("", status_code=201, response_model=RouterIntegrationOut)
async def create_router(body: RouterIntegrationIn, runtime: GatewayRuntime = Depends(get_runtime),
                        caller: Caller = Depends(admin_somewhere_to_change)) -> dict[str, Any]:
    """A router integration with a new key; the answer says where its source sends."""
    team_id = str(body.team_id) if body.team_id else None
    permit_create(caller, "router integration", team_id)
    config = {"format": body.format, "catch_all": body.catch_all.options()}
    async with runtime.database.connection() as conn, conn.transaction():
        await _check_catch_all(conn, "", config, [])
        with known_team(team_id):
            row = await store.create_integration(conn, None, "router", body.name, config, team_id)
    return _shown(row, caller, runtime)


@router.get("", response_model=RouterIntegrationList)
async def list_routers(
    kind: Literal["router"] = Query("router", alias="type", description="only router integrations are listed here"),
    team: str | None = TEAM_QUERY,
    runtime: GatewayRuntime = Depends(get_runtime), caller: Caller = Depends(admin_somewhere_to_change),
) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        rows = await store.router_integrations(conn, team_filter(caller, team))
    return {"integrations": [_shown(row, caller, runtime) for row in rows]}


@router.patch("/{integration_id}", response_model=RouterIntegrationOut)
async def update_router(integration_id: uuid.UUID, body: RouterIntegrationPatch,
                        runtime: GatewayRuntime = Depends(get_runtime),
                        caller: Caller = Depends(admin_somewhere_to_change),
                        team_id: str | None = Depends(_MANAGED)) -> dict[str, Any]:
    """Rename it, give it another catch-all (checked with its routes), or another team (admin of both)."""
    moved_to = str(body.team_id) if body.team_id else None
    team = (moved_to,) if "team_id" in body.model_fields_set else None
    if team is not None:
        permit_move(caller, team_id, moved_to, f"router integration {integration_id}")
    async with runtime.database.connection() as conn, conn.transaction():
        integration = found(await store.get_router_integration(conn, str(integration_id)),
                            f"router integration with id {integration_id}")
        config = None
        if body.catch_all is not None:
            await rule_store.lock_set(conn, "router", integration["id"])
            config = {**integration["config"], "catch_all": body.catch_all.options()}
            routes = await rule_store.list_rules(conn, "router", integration["id"])
            await _check_catch_all(conn, integration["id"], config, [rule["spec"] for rule in routes])
        with known_team(moved_to):
            row = found(await store.update_router_integration(conn, integration["id"], body.name, config, team),
                        f"router integration with id {integration_id}")
    runtime.forget_keys(row["key"])  # the key's cached options are those of before
    return _shown(row, caller, runtime)


@router.delete("/{integration_id}", response_model=RouterIntegrationOut)
async def revoke_router(integration_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime),
                        caller: Caller = Depends(admin_somewhere_to_change)) -> dict[str, Any]:
    """Revoke the router integration: its key is refused from now on."""
    async with runtime.database.connection() as conn:
        row = found(await store.revoke_router_integration(conn, str(integration_id)),
                    f"router integration with id {integration_id}")
    runtime.forget_keys(row["key"])
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
    """The integration as `caller` may see it: its key and address to its admins only."""
    config = row["config"]
    admin = caller.may(Action.MANAGE, row["team_id"])
    address = BY_KIND[config["format"]].address_of(row["key"], runtime.settings)
    return {**row, "service_id": None, "format": config["format"], "catch_all": config.get("catch_all", {}),
            "key": row["key"] if admin else None, "url": address if admin else None}
