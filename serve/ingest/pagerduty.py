"""PagerDuty Events API v2: `POST /v2/enqueue` and `POST /v2/change/enqueue`.

Request fields, limits, status codes and bodies match PagerDuty's, so a PagerDuty client
pointed at Tocsin's base URL works unchanged. Answers 202 only once the event is durable.
An alert event is read from its JSON text in one pass (pagerduty_wire.py) where that reads it
as the models below would; they read the rest, and word every refusal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tocsin.actors.domain.events import Action, AlertEvent, Severity, event_ids
from tocsin.actors.domain.storable import storable, storable_json
from tocsin.actors.routing_keys import MalformedKey, TooManyUnknownKeys
from tocsin.actors.store import services as service_store
from tocsin.actors.store.services import ROUTING_KEY_LENGTH, IntegrationKey
from tocsin.serve.errors import describe, json_response
from tocsin.serve.ingest.common import Refusal, as_source, body_schema, check_rate, described, read_body, source_type, submit
from tocsin.serve.ingest.pagerduty_wire import AlertEventWire, decoded_event
from tocsin.serve.ingest.ruling import ROUTER
from tocsin.serve.ingest.common import find_key, not_a_key, too_many_unknown_keys
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(tags=["PagerDuty Events API v2"])

M = TypeVar("M", bound=BaseModel)


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")
    href: str
    text: str | None = None


class Image(BaseModel):
    model_config = ConfigDict(extra="allow")
    src: str
    href: str | None = None
    alt: str | None = None


class EventPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Severity
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: Any = None


class AlertEventIn(BaseModel):
    """An alert event, exactly as PagerDuty's Events API v2 takes it."""

    model_config = ConfigDict(extra="forbid")
    routing_key: str = Field(min_length=ROUTING_KEY_LENGTH, max_length=ROUTING_KEY_LENGTH)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, min_length=1, max_length=255)
    payload: EventPayload | None = None
    images: list[Image] | None = None
    links: list[Link] | None = None
    client: str | None = None
    client_url: str | None = None

    @model_validator(mode="after")
    def _required_per_action(self) -> AlertEventIn:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("'payload' is required for a trigger event")
        if self.event_action != "trigger" and self.dedup_key is None:
            raise ValueError(f"'dedup_key' is required for an {self.event_action} event")
        return self

    def payload_text(self) -> str:
        """The event but its routing key, as JSON text: what its alert event keeps."""
        return self.model_dump_json(exclude={"routing_key"}, exclude_none=True, by_alias=True)


class ChangePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=1024)
    source: str | None = Field(None, max_length=255)
    timestamp: datetime | None = None
    custom_details: Any = None


class ChangeEventIn(BaseModel):
    """A change event (a deploy, a config push), recorded on the service; pages nobody."""

    model_config = ConfigDict(extra="forbid")
    routing_key: str = Field(min_length=ROUTING_KEY_LENGTH, max_length=ROUTING_KEY_LENGTH)
    payload: ChangePayload
    links: list[Link] | None = None
    images: list[Image] | None = None


def answer(refusal: Refusal) -> Response:
    """A refusal in PagerDuty's shape."""
    body = {"status": "invalid event" if refusal.status == 400 else "error", "message": refusal.message,
            "errors": refusal.errors}
    return json_response(refusal.status, body, refusal.headers)


@router.post("/v2/enqueue", status_code=202, openapi_extra=body_schema(AlertEventIn),
             summary="Send an alert event (trigger, acknowledge, resolve)")
async def enqueue(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    try:
        event = read_event(await read_body(request))
        integration = await _integration(event.routing_key, request, runtime)
        dedup_key = event.dedup_key or uuid.uuid4().hex
        await submit(runtime, [to_event(event, dedup_key, integration, runtime.now())], integration)
    except Refusal as refusal:
        return answer(refusal)
    return json_response(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})


@router.post("/v2/change/enqueue", status_code=202, openapi_extra=body_schema(ChangeEventIn),
             summary="Send a change event")
async def change_enqueue(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    try:
        event = parsed(await read_body(request), ChangeEventIn)
        integration = await _integration(event.routing_key, request, runtime)
        if integration.type == ROUTER:
            raise Refusal(400, "Event object is invalid", [
                "routing_key: this key is a router integration's, which routes alerts; a change event goes"
                " to the key of a service's integration"])
    except Refusal as refusal:
        return answer(refusal)
    async with runtime.database.connection() as conn:
        await service_store.record_change_event(
            conn,
            event_id=str(uuid.uuid4()),
            integration=integration,
            summary=storable(event.payload.summary),
            source=None if event.payload.source is None else storable(event.payload.source),
            timestamp=event.payload.timestamp,
            received_at=runtime.now(),
            payload=storable_json(event.model_dump_json(exclude={"routing_key"}, exclude_none=True)),
        )
    return json_response(202, {"status": "success", "message": "Change event processed"})


def parsed(body: bytes, model: type[M]) -> M:
    """The event of a body as sent, read by `model`; a Refusal as the routes refuse it."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc) from None


def read_event(body: bytes) -> AlertEventIn | AlertEventWire:
    """The alert event of a body as sent: read in one pass where that reads it as the model
    would (`decoded_event`), else by the model, which refuses it as /v2/enqueue does."""
    event = decoded_event(body)
    return parsed(body, AlertEventIn) if event is None else event


def _invalid(exc: ValidationError) -> Refusal:
    if any(e["type"] == "json_invalid" for e in exc.errors()):
        return Refusal(400, "Event object is invalid", ["the body is not valid JSON"])
    return Refusal(400, "Event object is invalid", describe(exc.errors()))


def events_of_body(body: Any, integration: IntegrationKey, now: datetime) -> list[AlertEvent]:
    """The alert event of one event as sent, JSON parsed, as /v2/enqueue makes it; its routing
    key may be left out (it is no part of what is kept). A Refusal as /v2/enqueue refuses it."""
    if isinstance(body, dict) and "routing_key" not in body:
        body = {**body, "routing_key": "0" * ROUTING_KEY_LENGTH}
    try:
        event = AlertEventIn.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return [to_event(event, event.dedup_key or uuid.uuid4().hex, integration, now)]


async def _integration(routing_key: str, request: Request, runtime: GatewayRuntime) -> IntegrationKey:
    try:
        integration = runtime.keys.known(routing_key) or await find_key(routing_key, request, runtime)
    except MalformedKey:
        raise Refusal(400, "Event object is invalid", [f"routing_key: {not_a_key('routing key')}"]) from None
    except TooManyUnknownKeys as exc:
        raise too_many_unknown_keys("routing key", exc.retry_after_s) from None
    if integration is None:
        raise Refusal(400, "Event object is invalid", ["routing_key: no integration has this routing key"])
    if integration.revoked:
        raise Refusal(400, "Event object is invalid", ["routing_key: this integration key has been revoked"])
    if source_type(integration) != "pagerduty":
        raise Refusal(400, "Event object is invalid", [f"routing_key: this key belongs to {described(integration)}"])
    try:
        check_rate(integration, runtime)
    except Refusal as limited:
        raise Refusal(429, "Rate limit reached for this routing key", ["too many events"], limited.headers) from None
    return as_source(integration)


def to_event(event: AlertEventIn | AlertEventWire, dedup_key: str, integration: IntegrationKey, now: datetime
             ) -> AlertEvent:
    """The alert event of a PagerDuty event; its details are the event as sent, but the routing key."""
    payload = event.payload
    return AlertEvent(
        event_id=event_ids(1)[0],
        service_id=integration.service_id,
        integration_id=integration.integration_id,
        dedup_key=dedup_key,
        action=Action(event.event_action),
        received_at=now,
        summary=payload.summary if payload else None,
        severity=payload.severity if payload else None,
        source=payload.source if payload else None,
        payload=event.payload_text(),
    )

