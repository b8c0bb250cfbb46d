"""Services and their integrations (routing keys).

A service belongs to a team (`team_id`) or to none: its team's admins, and global admins,
create, change, move and delete it and its integrations, and they alone see its routing keys
(serve/api/ownership.py)."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import ValidationError

from tocsin.actors.store import services as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import Caller, admin_somewhere_to_change
from tocsin.serve.api.models import (
    IntegrationIn,
    IntegrationList,
    IntegrationOut,
    ServiceIn,
    ServiceList,
    ServiceOut,
    ServicePatch,
    changes_of,
)
from tocsin.serve.api.ownership import TEAM_QUERY, guard, known_team, permit_create, permit_move, team_filter
from tocsin.serve.errors import answering, deleted, found, invalid
from tocsin.serve.ingest.formats import BY_KIND, CONFIG_MODELS
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

router = APIRouter(prefix="/api/v1/services", tags=["Services"],
                   dependencies=[Depends(admin_somewhere_to_change), Depends(guard("service", "service_id"))])


@router.post("", status_code=201, response_model=ServiceOut)
async def create_service(
    body: ServiceIn, caller: Caller = Depends(admin_somewhere_to_change), db: Database = Depends(get_database)
) -> dict[str, Any]:
    fields = body.model_dump(mode="json")
    permit_create(caller, "service", fields["team_id"])
    async with db.connection() as conn:
        with _known_policy(fields["escalation_policy_id"]), known_team(fields["team_id"]):
            return await store.create_service(conn, **fields)


@router.get("", response_model=ServiceList)
async def list_services(
    team: str | None = TEAM_QUERY, caller: Caller = Depends(admin_somewhere_to_change),
    db: Database = Depends(get_database),
) -> dict[str, Any]:
    async with db.connection() as conn:
        return {"services": await store.list_services(conn, team_filter(caller, team))}


@router.get("/{service_id}", response_model=ServiceOut)
async def get_service(service_id: uuid.UUID, db: Database = Depends(get_database)) -> dict[str, Any]:
    async with db.connection() as conn:
        return found(await store.get_service(conn, str(service_id)), f"service with id {service_id}")


@router.patch("/{service_id}", response_model=ServiceOut)
async def update_service(
    service_id: uuid.UUID, body: ServicePatch, caller: Caller = Depends(admin_somewhere_to_change),
    team_id: str | None = Depends(guard("service", "service_id")), db: Database = Depends(get_database),
) -> dict[str, Any]:
    """Change what is given; `team_id` gives the service to another team (admin of both)."""
    changes = changes_of(body, nullable={"escalation_policy_id", "auto_resolve_minutes", "max_unacknowledged",
                                         "team_id"})
    if "team_id" in changes:
        permit_move(caller, team_id, changes["team_id"], f"service {service_id}")
    async with db.connection() as conn:
        with _known_policy(changes.get("escalation_policy_id")), known_team(changes.get("team_id")):
            return found(await store.update_service(conn, str(service_id), changes), f"service with id {service_id}")


@router.delete("/{service_id}", status_code=204)
async def delete_service(service_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    async with runtime.database.connection() as conn:
        keys = [i["key"] for i in await store.list_integrations(conn, str(service_id))]
        answer = deleted(await store.delete_service(conn, str(service_id)), f"service with id {service_id}")
    runtime.forget_keys(*keys)
    return answer


@router.post("/{service_id}/integrations", status_code=201, response_model=IntegrationOut)
async def create_integration(
    service_id: uuid.UUID, body: IntegrationIn, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    config = _config(body)
    async with runtime.database.connection() as conn:
        found(await store.get_service(conn, str(service_id)), f"service with id {service_id}")
        row = await store.create_integration(conn, str(service_id), body.type, body.name, config)
    return _with_url(row, runtime)


# Admins only (of the service's team, or global), though it only reads: each routing key is a
# credential that opens incidents.
@router.get("/{service_id}/integrations", response_model=IntegrationList,
            dependencies=[Depends(guard("service", "service_id", reads=True))])
async def list_integrations(service_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        found(await store.get_service(conn, str(service_id)), f"service with id {service_id}")
        rows = await store.list_integrations(conn, str(service_id))
    return {"integrations": [_with_url(r, runtime) for r in rows]}


@router.delete("/{service_id}/integrations/{integration_id}", response_model=IntegrationOut)
async def revoke_integration(
    service_id: uuid.UUID, integration_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)
) -> dict[str, Any]:
    """Revoke the integration: its routing key is refused from now on."""
    async with runtime.database.connection() as conn:
        row = await store.revoke_integration(conn, str(service_id), str(integration_id))
    if row is None:
        raise HTTPException(404, f"no integration {integration_id} on service {service_id}")
    runtime.forget_keys(row["key"])
    return _with_url(row, runtime)


def _known_policy(policy_id: str | None) -> AbstractContextManager[None]:
    return answering(asyncpg.ForeignKeyViolationError,
                     invalid(("escalation_policy_id", f"no escalation policy with id {policy_id}")))


def _config(body: IntegrationIn) -> dict[str, Any]:
    """The options, checked against the type's model (422 naming the option otherwise)."""
    model = CONFIG_MODELS[body.type]
    try:
        return model.model_validate(body.config).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise invalid(*((f"config.{'.'.join(str(p) for p in e['loc'])}", e["msg"]) for e in exc.errors())) from None


def _with_url(row: dict[str, Any], runtime: GatewayRuntime) -> dict[str, Any]:
    """Where a source of this type sends (serve/ingest/formats.py): a URL, with the key in it
    for sources that take a URL only; for e-mail, the integration's address."""
    return {**row, "url": BY_KIND[row["type"]].address_of(row["key"], runtime.settings)}
