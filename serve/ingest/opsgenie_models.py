"""Opsgenie Alert API v2 bodies, their limits, and the pure mapping of an alert to Tocsin's
`AlertEvent` and of an outcome to Opsgenie's request status.

Opsgenie de-duplicates only by alias: an alert with an alias adds to the open incident with
that alias; one without gets an alias of its own, so each such request opens an incident.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from tocsin.actors.domain.events import Action, AlertEvent, Severity
from tocsin.actors.store.services import IntegrationKey

DEDUP_PREFIX = "og:"
ALIAS_MAX = 512
MAX_DETAILS_CHARS = 8000  # keys and values together, as Opsgenie counts them

Priority = Literal["P1", "P2", "P3", "P4", "P5"]
Verb = Literal["Acknowledge", "Close"]

ACTION_OF: dict[str, Action] = {"Acknowledge": Action.ACKNOWLEDGE, "Close": Action.RESOLVE}

SEVERITY_OF: dict[str, Severity] = {
    "P1": Severity.CRITICAL, "P2": Severity.ERROR, "P3": Severity.WARNING, "P4": Severity.INFO, "P5": Severity.INFO,
}

Tag = Annotated[str, StringConstraints(max_length=50)]


class Responder(BaseModel):
    """A team, user, escalation or schedule, named by id, name or username."""

    model_config = ConfigDict(extra="allow")
    type: Literal["team", "user", "escalation", "schedule"]
    id: str | None = None
    name: str | None = None
    username: str | None = None

    @model_validator(mode="after")
    def _named(self) -> Responder:
        if not (self.id or self.name or self.username):
            raise ValueError("a responder needs an id, a name or a username")
        return self


class CreateAlertIn(BaseModel):
    """An alert, as Opsgenie's `POST /v2/alerts` takes it. Fields Opsgenie does not know
    are kept with the details, not refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    message: str = Field(min_length=1, max_length=130)
    alias: str | None = Field(None, max_length=ALIAS_MAX)
    description: str | None = Field(None, max_length=15000)
    responders: list[Responder] | None = Field(None, max_length=50)
    visible_to: list[Responder] | None = Field(None, alias="visibleTo", max_length=50)
    actions: list[Tag] | None = Field(None, max_length=10)
    tags: list[Tag] | None = Field(None, max_length=20)
    details: dict[str, str] | None = None
    entity: str | None = Field(None, max_length=512)
    source: str | None = Field(None, max_length=100)
    priority: Priority = "P3"
    user: str | None = Field(None, max_length=100)
    note: str | None = Field(None, max_length=25000)

    @field_validator("details")
    @classmethod
    def _details_fit(cls, details: dict[str, str] | None) -> dict[str, str] | None:
        if details and sum(len(k) + len(v) for k, v in details.items()) > MAX_DETAILS_CHARS:
            raise ValueError(f"details may hold at most {MAX_DETAILS_CHARS} characters")
        return details


class AlertActionIn(BaseModel):
    """The optional body of acknowledge and close."""

    model_config = ConfigDict(extra="allow")
    user: str | None = Field(None, max_length=100)
    source: str | None = Field(None, max_length=100)
    note: str | None = Field(None, max_length=25000)

    @property
    def actor(self) -> str:
        """Who acted, for the incident's timeline."""
        return self.user or self.source or "opsgenie"


def alias_of(alert: CreateAlertIn) -> str:
    """The alert's alias, or a fresh one: without an alias Opsgenie de-duplicates nothing."""
    return alert.alias or uuid.uuid4().hex


def dedup_key(alias: str) -> str:
    return DEDUP_PREFIX + alias


def to_event(
    alert: CreateAlertIn, alias: str, integration: IntegrationKey, event_id: str, now: datetime
) -> AlertEvent:
    """A trigger; the whole alert, as sent, becomes the details of the incident it opens."""
    return _event(
        Action.TRIGGER, alias, integration, event_id, now, alert.source or alert.entity,
        alert.model_dump_json(by_alias=True, exclude_none=True),
        summary=alert.message, severity=SEVERITY_OF[alert.priority],
    )


def action_event(
    verb: Verb, alias: str, body: AlertActionIn, integration: IntegrationKey, event_id: str, now: datetime
) -> AlertEvent:
    """Acknowledge or close by alias: acts on the open incident the alias's alerts opened."""
    payload = body.model_dump_json(exclude_none=True)
    return _event(ACTION_OF[verb], alias, integration, event_id, now, body.actor, payload)


def _event(
    action: Action, alias: str, integration: IntegrationKey, event_id: str, now: datetime, source: str | None,
    payload: str, summary: str | None = None, severity: Severity | None = None,
) -> AlertEvent:
    return AlertEvent(
        event_id=event_id, service_id=integration.service_id, integration_id=integration.integration_id,
        dedup_key=dedup_key(alias), action=action, received_at=now, summary=summary, severity=severity,
        source=source, payload=payload,
    )


# What Opsgenie's request status says for each (action, outcome); anything else failed.
_STATUS: dict[tuple[str, str], tuple[bool, str]] = {
    ("Create", "opened"): (True, "Created alert"),
    ("Create", "occurrence"): (True, "Alert already exists"),
    ("Acknowledge", "acknowledged"): (True, "Acknowledged"),
    ("Acknowledge", "unchanged"): (True, "Alert is already acknowledged"),
    ("Acknowledge", "closed"): (False, "Alert is already closed"),
    ("Close", "resolved"): (True, "Closed"),
    ("Close", "closed"): (True, "Alert is already closed"),
}
DOES_NOT_EXIST = (False, "Alert does not exist")


def request_status(action: str, outcome: str, incident_id: int | None) -> tuple[bool, str]:
    """(success, status text) of a processed request. A command on an incident that is no
    longer open changes nothing and names none; an alias with no open incident is dropped."""
    if outcome == "unchanged" and incident_id is None:
        outcome = "closed"
    return _STATUS.get((action, outcome), DOES_NOT_EXIST)


def field_errors(errors: Sequence[Any]) -> dict[str, str]:
    """Pydantic errors as Opsgenie names them: {field: reason}, e.g. {"tags": "…"}."""
    named: dict[str, str] = {}
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        named.setdefault(where, str(error["msg"]))
    return named
