"""The Alertmanager-shaped sources (Prometheus Alertmanager, Grafana): their options and the
routes that receive them, made by one function from a source's `Notification`.

Each source has `POST /integrations/<kind>/{key}` and, for the key as `Authorization: Bearer
<key>` (which Alertmanager's and Grafana's HTTP settings can send), `POST /integrations/<kind>`.
By default each alert is an incident of its own (dedup key `<prefix>:<fingerprint>`); with the
option `group_by: group_key`, each notification group is one. Every alert of a request goes to
the shards as one batch; the answer is 200 only once they are durable, else 503 with
Retry-After, which both sources retry. Refusals are in Tocsin's shape.
"""

# Annotations are evaluated here, not postponed: the endpoints are closures, which Serve
# pickles by value into each replica, where FastAPI reads their annotations again; a
# postponed one ("Request") would name what the closure's pickled globals do not hold.

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, ValidationError

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import AlertEvent, ServiceInput
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.errors import describe, json_response
from tocsin.serve.ingest.common import (
    IntegrationConfig,
    Refusal,
    body_schema,
    integration_for,
    parse_json,
    read_body,
    submit,
)
from tocsin.serve.ingest.prometheus_alerts import (
    Grouping,
    NotificationIn,
    NotificationWire,
    Target,
    alert_events,
    decoded,
    decoded_json,
)
from tocsin.serve.runtime import GatewayRuntime, get_runtime


class GroupingConfig(IntegrationConfig):
    """The options of an Alertmanager or Grafana integration: how alerts make incidents."""

    group_by: Grouping = Field("fingerprint", description=(
        "fingerprint: one incident per alert; group_key: one incident per notification group, "
        "resolved when the group is"))


NO_KEY = Refusal(401, "Send the integration key in the URL or as 'Authorization: Bearer <key>'", ["key: missing"])


@dataclass(frozen=True, slots=True)
class Notification:
    """One Alertmanager-shaped source: its integration type, its name in messages, its routes'
    tag in the API's document, its wire model (which documents it and words refusals) and the
    Struct that reads it, and its dedup keys' prefix."""

    kind: str
    name: str
    tag: str
    model: type[NotificationIn]
    wire: type[NotificationWire]
    dedup_prefix: str

    @property
    def path(self) -> str:
        """Its routes' path; the key may follow it."""
        return f"/integrations/{self.kind}"


def notification_routes(source: Notification) -> APIRouter:
    """The source's two routes: the key in the URL, or as a Bearer token."""
    router = APIRouter(tags=[source.tag])
    what = f"{'an' if source.name[:1] in 'AEIOU' else 'a'} {source.name} notification"

    @router.post(source.path + "/{key}", openapi_extra=body_schema(source.model), summary=f"Receive {what}")
    async def notify(key: str, request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
        return await receive(source, key, request, runtime)

    @router.post(source.path, openapi_extra=body_schema(source.model),
                 summary=f"Receive {what} (key as a Bearer token)")
    async def notify_with_bearer(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
        return await receive(source, bearer_key(request), request, runtime)

    return router


async def receive(source: Notification, key: str, request: Request, runtime: GatewayRuntime) -> Response:
    """200 once every alert of the notification is durable; a refusal otherwise."""
    try:
        if not key:
            raise NO_KEY
        integration = await integration_for(key, request, runtime, (source.kind,))
        notification = read_notification(source, await read_body(request))
        events, payloads = _events(source, notification, integration, runtime.now())
        replies = await submit(runtime, list[ServiceInput](events), integration, payloads)
    except Refusal as refusal:
        return refusal.response()
    return json_response(200, {"status": "success", "alerts": len(notification.alerts),
                               "incidents": [_outcome(e, r) for e, r in zip(events, replies)]})


def bearer_key(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`; empty when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def notification_events(source: Notification, body: Any, integration: IntegrationKey, now: datetime
                        ) -> list[AlertEvent]:
    """The alert events of one notification as sent, JSON parsed, by the integration's options;
    a Refusal as the source's routes refuse it."""
    return _events(source, _validated(source, body), integration, now)[0]


def json_events(source: Notification, body: bytes, integration: IntegrationKey, now: datetime) -> list[AlertEvent]:
    """`notification_events` of a notification as sent, JSON text, read as the routes read it."""
    return _events(source, read_notification(source, body), integration, now)[0]


def read_notification(source: Notification, body: bytes) -> NotificationWire:
    """The notification of a body as sent, read in one pass where that reads it as parsing it
    would; else parsed, and read or refused as `notification_events` reads or refuses it."""
    notification = decoded_json(body, source.wire)
    return _validated(source, parse_json(body)) if notification is None else notification


def _events(source: Notification, notification: NotificationWire, integration: IntegrationKey, now: datetime
            ) -> tuple[list[AlertEvent], list[dict[str, Any]]]:
    """The notification's events, and their payloads as JSON values (`alert_events`)."""
    grouping = GroupingConfig.model_validate(integration.config).group_by if integration.config else "fingerprint"
    target = Target(integration.service_id, integration.integration_id, now)
    return alert_events(notification, grouping, source.dedup_prefix, target)


def _validated(source: Notification, body: Any) -> NotificationWire:
    try:
        return decoded(body, source.wire, source.model)
    except ValidationError as exc:
        errors = describe(exc.errors())
        raise Refusal(400, f"Invalid {source.name} notification: {'; '.join(errors)}", errors) from None


def _outcome(event: AlertEvent, reply: Reply) -> dict[str, Any]:
    return {"dedup_key": event.dedup_key, "action": event.action.value, "outcome": reply.outcome,
            "incident_id": reply.incident_id}
