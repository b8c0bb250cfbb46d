"""The HTTP side of the Alertmanager-shaped sources (Prometheus Alertmanager, Grafana).

The key is in the URL, or in `Authorization: Bearer <key>` (which Alertmanager's and
Grafana's HTTP settings can send). Every alert of a request goes to the shards as one batch;
the answer is 200 only once they are durable, else 503 with Retry-After, which both sources
retry. Refusals are in Tocsin's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field, ValidationError

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import AlertEvent, ServiceInput
from tocsin.serve.errors import describe, json_response
from tocsin.serve.ingest.common import IntegrationConfig, Refusal, integration_for, parse_json, read_body, submit
from tocsin.serve.ingest.prometheus_alerts import Grouping, NotificationIn, Target, events_of
from tocsin.serve.runtime import GatewayRuntime


class GroupingConfig(IntegrationConfig):
    """The options Alertmanager's and Grafana's integrations share: how alerts make incidents."""

    group_by: Grouping = Field("fingerprint", description=(
        "fingerprint: one incident per alert; group_key: one incident per notification group, "
        "resolved when the group is"))


NO_KEY = Refusal(401, "Send the integration key in the URL or as 'Authorization: Bearer <key>'", ["key: missing"])


@dataclass(frozen=True, slots=True)
class Format:
    """One Alertmanager-shaped source: its integration type, wire model, options and dedup key prefix."""

    kind: str  # the integration type
    name: str
    model: type[NotificationIn]
    config: type[GroupingConfig]
    prefix: str


async def receive(source: Format, key: str, request: Request, runtime: GatewayRuntime) -> Response:
    """200 once every alert of the notification is durable; a refusal otherwise."""
    try:
        if not key:
            raise NO_KEY
        integration = await integration_for(key, request, runtime, (source.kind,))
        notification = _parse(source, await read_body(request))
        grouping = source.config.model_validate(integration.config).group_by
        target = Target(integration.service_id, integration.integration_id, runtime.now())
        events = events_of(notification, grouping, source.prefix, target)
        replies = await submit(runtime, list[ServiceInput](events))
    except Refusal as refusal:
        return refusal.response()
    return json_response(200, {"status": "success", "alerts": len(notification.alerts),
                               "incidents": [_outcome(e, r) for e, r in zip(events, replies)]})


def bearer_key(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`; empty when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _parse(source: Format, body: bytes) -> NotificationIn:
    try:
        return source.model.model_validate(parse_json(body))
    except ValidationError as exc:
        errors = describe(exc.errors())
        raise Refusal(400, f"Invalid {source.name} notification: {'; '.join(errors)}", errors) from None


def _outcome(event: AlertEvent, reply: Reply) -> dict[str, Any]:
    return {"dedup_key": event.dedup_key, "action": event.action.value, "outcome": reply.outcome,
            "incident_id": reply.incident_id}
