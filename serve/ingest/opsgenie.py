"""Opsgenie Alert API v2: create, acknowledge and close alerts, and the status of a request.

Paths, the `GenieKey` header, limits, status codes and bodies match Opsgenie's, so a tool
configured for Opsgenie works once its base URL is Tocsin's. Opsgenie answers 202 and
processes later; Tocsin answers 202 only once the alert is durable in its shard (503 with
Retry-After otherwise) and records each request's outcome for `GET /v2/alerts/requests/{id}`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.convertors import Convertor, register_url_convertor

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import AlertEvent, Command, IncidentCommand, ServiceInput, event_ids
from tocsin.actors.domain.storable import storable
from tocsin.actors.store import incidents as incident_store
from tocsin.actors.store import source_requests as store
from tocsin.actors.store.database import DATA_ERRORS, UNAVAILABLE
from tocsin.actors.store.services import IntegrationKey
from tocsin.actors.store.source_requests import SourceRequest
from tocsin.serve.errors import RETRY_AFTER_S, json_response, unusable
from tocsin.serve.ingest.common import (
    NotStored, Refusal, as_source, body_schema, check_rate, described, read_body, source_type, submit,
    find_key, not_a_key, too_many_unknown_keys,
)
from tocsin.serve.ingest.opsgenie_models import (
    ACTION_OF,
    ALIAS_MAX,
    AlertActionIn,
    CreateAlertIn,
    Verb,
    action_event,
    alias_of,
    field_errors,
    request_status,
    to_event,
)
from tocsin.actors.routing_keys import MalformedKey, TooManyUnknownKeys
from tocsin.serve.params import INT64_MAX
from tocsin.serve.runtime import GatewayRuntime, get_runtime

log = logging.getLogger(__name__)

class AliasConvertor(Convertor[str]):
    """An identifier in a URL, slashes and line breaks included: an alias is the source's own
    text (Starlette's `path` stops at a line break, leaving such an alias no route)."""

    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("alias", AliasConvertor())

router = APIRouter(tags=["Opsgenie Alert API v2"])

M = TypeVar("M", bound=BaseModel)

UNPROCESSABLE = "Request body is not processable. Please check the errors."
ACCEPTED = "Request will be processed"

DATABASE_DOWN = Refusal(503, "The database is unavailable; retry", ["unavailable"], {"Retry-After": str(RETRY_AFTER_S)})


class Unprocessable(Refusal):
    """A 422 naming each field that is wrong, as Opsgenie's `errors` map does."""

    def __init__(self, fields: dict[str, str]):
        super().__init__(422, UNPROCESSABLE, [f"{name}: {reason}" for name, reason in fields.items()])
        self.fields = fields


@dataclass(frozen=True)
class Call:
    """One request: its id and start, which every answer carries as `requestId` and `took`."""

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.perf_counter)

    def answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        took = round(time.perf_counter() - self.started, 3)
        return json_response(status, {**body, "took": took, "requestId": self.request_id}, headers)

    def accepted(self) -> Response:
        return self.answer(202, {"result": ACCEPTED})

    def refused(self, refusal: Refusal) -> Response:
        body: dict[str, Any] = {"message": refusal.message}
        if isinstance(refusal, Unprocessable):
            body["errors"] = refusal.fields
        return self.answer(refusal.status, body, refusal.headers)


def refused(refusal: Refusal) -> Response:
    """A refusal in Opsgenie's shape, for a request refused before it is handled."""
    return Call().refused(refusal)


@router.post("/v2/alerts", status_code=202, openapi_extra=body_schema(CreateAlertIn), summary="Create alert")
async def create_alert(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    call = Call()
    received_at = runtime.now()
    try:
        integration = await _integration(request, runtime)
        alert = await _parse(request, CreateAlertIn)
        alias = alias_of(alert)
        reply = await _apply(runtime, to_event(alert, alias, integration, event_ids(1)[0], received_at), integration)
    except Refusal as refusal:
        return call.refused(refusal)
    await _record(runtime, call, integration, "Create", alias, received_at, reply)
    return call.accepted()


IdentifierType = Query("id", alias="identifierType",
                       description="id or tiny (both Tocsin's incident id, a short number) or alias")


@router.post("/v2/alerts/{identifier:alias}/acknowledge", status_code=202, summary="Acknowledge alert",
             openapi_extra=body_schema(AlertActionIn, required=False))
async def acknowledge_alert(identifier: str, request: Request, identifier_type: str = IdentifierType,
                            runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    return await _act(request, runtime, "Acknowledge", identifier, identifier_type)


@router.post("/v2/alerts/{identifier:alias}/close", status_code=202, summary="Close alert",
             openapi_extra=body_schema(AlertActionIn, required=False))
async def close_alert(identifier: str, request: Request, identifier_type: str = IdentifierType,
                      runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    return await _act(request, runtime, "Close", identifier, identifier_type)


@router.get("/v2/alerts/requests/{request_id}", summary="Get request status")
async def request_status_of(request_id: str, request: Request,
                            runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    call = Call()
    try:
        integration = await _integration(request, runtime)
        row = await _find_request(runtime, request_id, integration)
    except Refusal as refusal:
        return call.refused(refusal)
    return call.answer(200, {"data": _status_data(row)})


async def _act(request: Request, runtime: GatewayRuntime, action: Verb,
               identifier: str, identifier_type: str) -> Response:
    call = Call()
    received_at = runtime.now()
    try:
        integration = await _integration(request, runtime)
        by_alias = _by_alias(identifier_type)
        _check_identifier(identifier)
        incident_id = None if by_alias else _incident_number(identifier)
        body = await _parse(request, AlertActionIn, optional=True)
        if incident_id is None:
            event = action_event(action, identifier, body, integration, event_ids(1)[0], received_at)
            reply: Reply | None = await _apply(runtime, event, integration)
        else:
            reply = await _command(runtime, action, incident_id, body, integration, received_at)
    except Refusal as refusal:
        return call.refused(refusal)
    alias = identifier if by_alias else None
    await _record(runtime, call, integration, action, alias, received_at, reply)
    return call.accepted()


def _by_alias(identifier_type: str) -> bool:
    # Opsgenie's tiny id is a short number shown to people; Tocsin's incident id already is one,
    # so a tiny id and an id name the same incident.
    if identifier_type not in ("id", "tiny", "alias"):
        raise Unprocessable({"identifierType": "must be id, tiny or alias"})
    return identifier_type == "alias"


def _check_identifier(identifier: str) -> None:
    """An id, a tiny id or an alias is at most an alias long. An alias is the source's own
    text, as in the alert it names: what the alert's could hold, it may hold (U+0000 is made
    storable on its way to the shard, as the alert's was); an id is checked as a number."""
    if len(identifier) > ALIAS_MAX:
        raise Unprocessable({"identifier": f"must be at most {ALIAS_MAX} characters"})


def _incident_number(identifier: str) -> int:
    """An id or a tiny id: Tocsin's incident number, or a 422 when it cannot be one."""
    if identifier.isascii() and identifier.isdigit() and 1 <= int(identifier) <= INT64_MAX:
        return int(identifier)
    raise Unprocessable({"identifier": f"an id or a tiny id is an incident number, 1 to {INT64_MAX} in digits 0-9"})


async def _command(runtime: GatewayRuntime, action: Verb, incident_id: int, body: AlertActionIn,
                   integration: IntegrationKey, received_at: datetime) -> Reply | None:
    """By Tocsin's incident id, through the shard like every other change; None when the
    integration's service has no such incident (a router's has none: it acts by alias only)."""
    async with _connection(runtime) as conn:
        service_id = await incident_store.service_of(conn, incident_id)
    if service_id != integration.service_id:
        return None
    return await _apply(runtime, IncidentCommand(
        command_id=str(uuid.uuid4()), service_id=service_id, incident_id=incident_id,
        action=Command(ACTION_OF[action].value),
        actor=body.actor, received_at=received_at,
    ), integration)


@asynccontextmanager
async def _connection(runtime: GatewayRuntime) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; its errors as Refusals in Opsgenie's shape."""
    with _database_refusals():
        async with runtime.database.connection() as conn:
            yield conn


@contextmanager
def _database_refusals() -> Iterator[None]:
    """Database errors as Refusals in Opsgenie's shape: 400 for a value of the request that
    the database cannot take, 503 for anything else (the database is down)."""
    try:
        yield
    except DATA_ERRORS as exc:
        raise Refusal(400, unusable(exc), ["a value cannot be used"]) from None
    except UNAVAILABLE:
        raise DATABASE_DOWN from None


async def _apply(runtime: GatewayRuntime, item: ServiceInput, integration: IntegrationKey) -> Reply:
    """Once durable (or dropped by a routing rule), or a 503 Refusal, or a 422 naming the fields
    holding what the database refused."""
    try:
        [reply] = await submit(runtime, [item], integration)
    except NotStored as refused:
        raise Unprocessable({where or "alert": what for where, what in refused.problems}) from None
    return reply


async def _integration(request: Request, runtime: GatewayRuntime) -> IntegrationKey:
    """The live Opsgenie integration whose key is in `Authorization: GenieKey <key>`."""
    scheme, _, key = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "geniekey" or not key.strip():
        raise Refusal(401, "Could not authenticate", ["Authorization: GenieKey <key> is missing"])
    try:
        with _database_refusals():
            integration = runtime.keys.known(key.strip()) or await find_key(key.strip(), request, runtime)
    except MalformedKey:
        raise Refusal(401, f"Could not authenticate: {not_a_key('key')}", ["the key is malformed"]) from None
    except TooManyUnknownKeys as exc:
        raise too_many_unknown_keys("key", exc.retry_after_s) from None
    if integration is None or integration.revoked:
        raise Refusal(401, "Could not authenticate", ["the key is unknown or its integration is disabled"])
    if source_type(integration) != "opsgenie":
        raise Refusal(403, f"This key belongs to {described(integration)}, not an Opsgenie one",
                      ["wrong integration type"])
    check_rate(integration, runtime)
    return as_source(integration)


def events_of_body(body: Any, integration: IntegrationKey, now: datetime) -> list[AlertEvent]:
    """The alert event of an alert as sent to `POST /v2/alerts`, JSON parsed; Unprocessable
    naming each field at fault, as that route answers."""
    try:
        alert = CreateAlertIn.model_validate(body)
    except ValidationError as exc:
        raise Unprocessable(field_errors(exc.errors())) from None
    return [to_event(alert, alias_of(alert), integration, event_ids(1)[0], now)]


async def _parse(request: Request, model: type[M], optional: bool = False) -> M:
    """The body as `model`; with `optional`, an empty body (of any type) is an empty object."""
    content_types = ("application/json",) if not optional or request.headers.get("content-type") else ()
    body = await read_body(request, content_types)
    if optional and not body.strip():
        body = b"{}"
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise Refusal(400, "Invalid JSON body", ["the body is not valid JSON"]) from None
        raise Unprocessable(field_errors(exc.errors())) from None


async def _record(runtime: GatewayRuntime, call: Call, integration: IntegrationKey, action: str,
                  alias: str | None, received_at: datetime, reply: Reply | None) -> None:
    """The request's outcome, for its status. The change is durable already: when the row
    cannot be written the answer stays 202 and the status reads "not found", as Opsgenie's
    does for a request it has not processed yet."""
    outcome, incident_id = (reply.outcome, reply.incident_id) if reply else ("dropped", None)
    success, status = request_status(action, outcome, incident_id)
    row = SourceRequest(call.request_id, integration.integration_id, action, alias and storable(alias), received_at,
                        runtime.now(), success, status, incident_id)
    try:
        async with runtime.database.connection() as conn:
            await store.record(conn, row)
    except UNAVAILABLE as exc:
        log.warning("request %s (%s) processed but its status not recorded: %r", call.request_id, status, exc)


async def _find_request(runtime: GatewayRuntime, request_id: str, integration: IntegrationKey) -> dict[str, Any]:
    row = None
    if _is_uuid(request_id):
        async with _connection(runtime) as conn:
            row = await store.find(conn, request_id, integration.integration_id)
    if row is None:
        raise Refusal(404, "Request not found. It might not be processed, yet.", ["requestId: unknown"])
    return row


def _status_data(row: dict[str, Any]) -> dict[str, Any]:
    incident_id = row["incident_id"]
    return {
        "success": row["success"], "action": row["action"], "processedAt": row["processed_at"].isoformat(),
        "integrationId": row["integration_id"], "isSuccess": row["success"], "status": row["status"],
        "alertId": "" if incident_id is None else str(incident_id), "alias": row["alias"] or "",
    }


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
