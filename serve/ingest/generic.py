"""A generic JSON webhook: `POST /integrations/generic/{key}`, or `POST /integrations/generic`
with `Authorization: Bearer <key>`.

Any JSON object is an alert; an array of objects is a batch, made durable as one. Where the
summary, dedup key, severity, action and source are found is the integration's
`GenericConfig` (dotted paths such as "alerts.0.name"); without one, the usual field names
are tried. The whole object is kept as the alert's details. Answers 202 only once every
alert of the request is durable; bad input is refused whole, naming the path at fault.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, field_validator

from tocsin.actors.domain.events import Action, AlertEvent, ServiceInput, Severity, event_ids
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.errors import json_response
from tocsin.serve.ingest.common import (
    IntegrationConfig,
    Refusal,
    integration_for,
    parse_json,
    read_body,
    submit,
)
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(tags=["Generic webhook"])

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
SOURCE_MAX = 255

# Where to look when the integration names no path: the first usable field wins.
SUMMARY_FIELDS = ("summary", "title", "message", "text", "name", "description")
DEDUP_FIELDS = ("dedup_key", "id", "alert_id", "fingerprint", "key")
SEVERITY_FIELDS = ("severity", "level", "priority")
ACTION_FIELDS = ("action", "status", "state", "event_action")
SOURCE_FIELDS = ("source", "host", "hostname")


def _words(table: dict[str, tuple[str, ...]], kind: type[Any]) -> dict[str, Any]:
    return {word: kind(value) for value, words in table.items() for word in words}


SEVERITY_WORDS: dict[str, Severity] = _words({
    "critical": ("critical", "crit", "fatal", "p1"),
    "error": ("error", "err", "high", "p2"),
    "warning": ("warning", "warn", "medium", "p3"),
    "info": ("info", "low", "ok", "p4", "p5"),
}, Severity)
ACTION_WORDS: dict[str, Action] = _words({
    "resolve": ("resolve", "resolved", "ok", "closed", "recovered", "normal"),
    "acknowledge": ("acknowledge", "acknowledged", "ack"),
}, Action)


class GenericConfig(IntegrationConfig):
    """Where a generic webhook's alerts keep their fields, and how their values read."""

    summary: str | None = Field(None, description="dotted path of the summary, e.g. alerts.0.name")
    dedup_key: str | None = Field(None, description="dotted path of the dedup key")
    severity: str | None = Field(None, description="dotted path of the severity")
    action: str | None = Field(None, description="dotted path of the action (trigger, acknowledge, resolve)")
    source: str | None = Field(None, description="dotted path of the source")
    severity_map: dict[str, Severity] = Field(default_factory=dict, description='e.g. {"sev1": "critical"}')
    action_map: dict[str, Action] = Field(default_factory=dict, description='e.g. {"ok": "resolve"}')

    @field_validator("summary", "dedup_key", "severity", "action", "source")
    @classmethod
    def _dotted(cls, path: str | None) -> str | None:
        if path is not None and (not path or any(not part for part in path.split("."))):
            raise ValueError(f"{path!r} is not a dotted path (e.g. alerts.0.name)")
        return path

    @field_validator("severity_map", "action_map")
    @classmethod
    def _case_blind(cls, table: dict[str, Any]) -> dict[str, Any]:
        return {_word(key): value for key, value in table.items()}


class Unusable(ValueError):
    """A value the mapping cannot use; the message names the field and the path."""


@dataclass(frozen=True, slots=True)
class Mapped:
    """One alert's fields, read from its object."""

    summary: str
    dedup_key: str
    action: Action
    severity: Severity | None
    source: str | None


def stable_key(text: str) -> str:
    """A dedup key for alerts that carry none: the same text always gives the same key."""
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()[:40]


def lookup(body: Any, path: str) -> Any:
    """The value at a dotted path; list elements by index ("alerts.0.name")."""
    value, parts = body, path.split(".")
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the object"
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, (dict, list)):
            raise Unusable(f"{path!r} not found: {where} has no {part!r}")
        else:
            raise Unusable(f"{path!r} not found: {where} is {_kind(value)}, not an object or array")
    return value


def map_alert(body: dict[str, Any], config: GenericConfig) -> Mapped:
    """The fields of one alert object, by the integration's paths or the usual names."""
    summary = _text(_field(body, config.summary, SUMMARY_FIELDS, "summary", (str,)), SUMMARY_MAX)
    if summary is None:
        raise Unusable(f"summary: none of {', '.join(SUMMARY_FIELDS)} is a non-empty string;"
                       " set config.summary to the path of the summary")
    dedup_key = _text(_field(body, config.dedup_key, DEDUP_FIELDS, "dedup_key", (str, int)))
    if dedup_key is not None and len(dedup_key) > DEDUP_KEY_MAX:
        raise Unusable(f"dedup_key: longer than {DEDUP_KEY_MAX} characters")
    severity = _field(body, config.severity, SEVERITY_FIELDS, "severity", (str, int))
    action = _field(body, config.action, ACTION_FIELDS, "action", (str, int))
    return Mapped(
        summary=summary,
        dedup_key=dedup_key or stable_key(summary),
        action=Action.TRIGGER if action is None else _read(action, config.action_map, ACTION_WORDS, Action.TRIGGER),
        severity=None if severity is None else _read(severity, config.severity_map, SEVERITY_WORDS,
                                                     Severity.CRITICAL),
        source=_text(_field(body, config.source, SOURCE_FIELDS, "source", (str,)), SOURCE_MAX),
    )


def alerts_of(body: Any) -> list[dict[str, Any]]:
    """The alert objects of a request: the object itself, or each element of an array."""
    if isinstance(body, dict):
        return [body]
    if not isinstance(body, list):
        raise Refusal(400, f"The body is {_kind(body)}; send a JSON object or an array of objects",
                      ["body: not an object or array"])
    if not body:
        raise Refusal(400, "The array is empty; send at least one alert object", ["body: empty array"])
    wrong = [f"[{i}]: {_kind(element)}, not an object" for i, element in enumerate(body)
             if not isinstance(element, dict)]
    if wrong:
        raise Refusal(400, "Every element of the array must be an object: " + "; ".join(wrong[:5]), wrong)
    return body


def map_all(alerts: list[dict[str, Any]], config: GenericConfig, batch: bool) -> list[Mapped]:
    """Every alert mapped, or a 400 naming each element and path at fault."""
    mapped, problems = [], []
    for index, alert in enumerate(alerts):
        try:
            mapped.append(map_alert(alert, config))
        except Unusable as exc:
            problems.append(f"[{index}] {exc}" if batch else str(exc))
    if problems:
        raise Refusal(400, "; ".join(problems[:5]), problems)
    return mapped


@router.post("/integrations/generic/{key}", status_code=202, summary="Send alerts as any JSON (key in the URL)")
async def receive(key: str, request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    return await _receive(key, request, runtime)


@router.post("/integrations/generic", status_code=202,
             summary="Send alerts as any JSON (Authorization: Bearer <key>)")
async def receive_bearer(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return Refusal(401, "the integration key is required: Authorization: Bearer <key>", ["key: missing"],
                       {"WWW-Authenticate": "Bearer"}).response()
    return await _receive(key.strip(), request, runtime)


async def _receive(key: str, request: Request, runtime: GatewayRuntime) -> Response:
    try:
        integration = await integration_for(key, request, runtime, ("generic",))
        body = parse_json(await read_body(request, content_types=()))  # curl sends any type
        events = events_of_body(body, integration, runtime.now())
        await submit(runtime, list[ServiceInput](events), integration, alerts_of(body))  # each its payload
    except Refusal as refusal:
        return refusal.response()
    return json_response(202, {"status": "success", "events": len(events),
                               "dedup_keys": [event.dedup_key for event in events]})


def events_of_body(body: Any, integration: IntegrationKey, now: datetime) -> list[AlertEvent]:
    """The alert events of a request's body, JSON parsed, by the integration's options; a
    Refusal naming each element and path at fault."""
    alerts = alerts_of(body)
    mapped = map_all(alerts, GenericConfig.model_validate(integration.config), isinstance(body, list))
    return [_event(m, a, event_id, integration, now) for m, a, event_id in zip(mapped, alerts, event_ids(len(alerts)))]


def _event(mapped: Mapped, alert: dict[str, Any], event_id: str, integration: IntegrationKey, now: datetime
           ) -> AlertEvent:
    return AlertEvent(
        event_id=event_id,
        service_id=integration.service_id,
        integration_id=integration.integration_id,
        dedup_key=mapped.dedup_key,
        action=mapped.action,
        received_at=now,
        summary=mapped.summary,
        severity=mapped.severity,
        source=mapped.source,
        payload=orjson.dumps(alert).decode(),
    )


def _field(body: dict[str, Any], path: str | None, names: tuple[str, ...], option: str,
           kinds: tuple[type, ...]) -> Any:
    """The configured path's value (which must be of `kinds`), else the first usable field."""
    if path is None:
        return next((body[name] for name in names if _usable(body.get(name), kinds)), None)
    try:
        value = lookup(body, path)
    except Unusable as exc:
        raise Unusable(f"{option}: {exc}") from None
    if not _usable(value, kinds):
        wanted = " or ".join("a non-empty string" if k is str else "an integer" for k in kinds)
        raise Unusable(f"{option}: {path!r} is {_kind(value)}, not {wanted}")
    return value


def _usable(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) or not isinstance(value, kinds):
        return False
    return not isinstance(value, str) or bool(value.strip())


def _text(value: Any, limit: int | None = None) -> str | None:
    return None if value is None else str(value).strip()[:limit]


def _read(value: Any, table: dict[str, Any], words: dict[str, Any], otherwise: Any) -> Any:
    word = _word(value)
    return table.get(word) or words.get(word, otherwise)


def _word(value: Any) -> str:
    return str(value).strip().lower()


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)
