"""Trying the rules on a sample alert: `POST /api/v1/rules/test`. Stores nothing, so any role
may.

The sample is read as ingestion reads what its source sends (the format's `events`,
serve/ingest/formats.py), then judged as the gateway judges every alert (actors/domain/
rule_verdict.py): by the rules the gateway holds (actors/rulebook.py, refreshed first, so a
rule saved a moment ago counts), with inhibit rules against the incidents open now.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from fastapi import APIRouter, Depends

from tocsin.actors.domain.events import Action, AlertEvent, Severity, Urgency, urgency_of
from tocsin.actors.domain.rule_verdict import Verdict, judge
from tocsin.actors.domain.rules import Disposition
from tocsin.actors.domain.service_incidents import DEFAULT_SEVERITY
from tocsin.actors.rulebook import Router, event_view, load_inhibit_index
from tocsin.actors.store import services as service_store
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.api.auth import require_viewer
from tocsin.serve.api.rule_models import RuleTestIn, RuleTestOut
from tocsin.serve.errors import found, invalid
from tocsin.serve.ingest.common import Refusal
from tocsin.serve.ingest.formats import BY_KIND
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/rules", tags=["Routing rules"], dependencies=[Depends(require_viewer)])


@router.post("/test", response_model=RuleTestOut)
async def test_rules(body: RuleTestIn, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """What the rules would do with each alert of `payload`, sent by its source through the
    router integration `integration_id` (its routes first), or straight to `service_id`."""
    if (body.integration_id is None) == (body.service_id is None):
        raise invalid(("integration_id", "give either integration_id (a router integration's) or service_id"))
    book = runtime.rules
    await book.refresh()
    now = runtime.now()
    async with runtime.database.connection() as conn:
        routes = await _router(conn, body, book.router) if body.integration_id else None
        if body.service_id is not None:
            found(await service_store.get_service(conn, str(body.service_id)), f"service with id {body.service_id}")
        events = _events(body, now)
        inhibit = await load_inhibit_index(conn, book.inhibit, now)
        verdicts = [judge(event_view(body.format, event), now, service_id=_text(body.service_id),
                          router=routes.rules if routes else None, service_rules=book.service, inhibit=inhibit,
                          service_exists=book.has_service)
                    for event in events]
        urgencies = await service_store.urgencies(conn, {v.service_id for v in verdicts if v.service_id})
    return {"alerts": [_tested(event, verdict, urgencies) for event, verdict in zip(events, verdicts)]}


async def _router(conn: asyncpg.Connection, body: RuleTestIn, routers: Callable[[str], Router | None]) -> Router:
    integration = found(await service_store.get_router_integration(conn, str(body.integration_id)),
                        f"router integration with id {body.integration_id}")
    taken = integration["config"].get("format")
    if taken != body.format:
        raise invalid(("format", f"the router integration {body.integration_id} takes {taken}, not {body.format}"))
    return found(routers(integration["id"]), f"router integration with id {body.integration_id} whose routes compile")


def _events(body: RuleTestIn, now: datetime) -> list[AlertEvent]:
    """The sample's alert events, as ingestion makes them; 422 naming what it would refuse."""
    read = BY_KIND[body.format].events
    assert read is not None  # every format a router takes comes as JSON
    sender = IntegrationKey(_text(body.integration_id) or "", _text(body.service_id) or "", body.format, False, {})
    try:
        return read(_as_sent(body.payload), sender, now)
    except Refusal as refused:
        raise invalid(*(("payload", error) for error in refused.errors or [refused.message])) from None


def _as_sent(payload: Any) -> Any:
    """The payload as ingestion reads it from the bytes a source sends: what its parser
    refuses (a number past 64 bits, an unpaired surrogate) is refused here too."""
    try:
        return orjson.loads(json.dumps(payload))
    except orjson.JSONDecodeError as exc:
        raise invalid(("payload", f"is not JSON its source could send: {exc}")) from None


def _tested(event: AlertEvent, verdict: Verdict, urgencies: Mapping[str, str]) -> dict[str, Any]:
    applied = verdict.applied(event)
    changes = verdict.changes
    routed = verdict.router
    known = verdict.service_id in urgencies
    severity = applied.severity or DEFAULT_SEVERITY
    return {
        "router": None if routed is None else {
            "rule": routed.matched[0] if routed.matched else None, "by_catch_all": routed.by_catch_all,
            "service_id": routed.service_id},
        "service_rules": list(verdict.service.matched),
        "inhibited_by": verdict.inhibited_by,
        "alert": {
            "summary": applied.summary or applied.dedup_key, "severity": severity.value,
            "urgency": _urgency(applied.urgency, urgencies.get(verdict.service_id or ""), severity),
            "priority": applied.priority, "dedup_key": applied.dedup_key,
            "details": dict(changes.details), "tags": list(changes.tags),
        },
        "disposition": verdict.disposition.value,
        "pause_minutes": verdict.pause_minutes,
        "would_page": known and verdict.disposition == Disposition.PAGE and event.action == Action.TRIGGER,
    }


def _urgency(set_by_rules: Urgency | None, of_service: str | None, severity: Severity) -> str | None:
    """The rules' urgency, else the service's (which may follow the severity); None without a service."""
    if set_by_rules is not None:
        return set_by_rules.value
    if of_service is None:
        return None
    return urgency_of(severity).value if of_service == "severity" else of_service


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
