"""The configuration file: a deployment's objects by name, as `tocsin config plan|apply|export` read and write it.

One YAML document (or a directory of them, merged: each top-level list is the concatenation
of the files' lists, in file-name order) describes teams, users, schedules, escalation
policies, services with their integrations, rules, heartbeats and maintenance windows, router
integrations and inhibit rules. Objects refer to each other by name, never by id:

    teams, schedules, escalation policies, services, routers   by `name` (unique per kind)
    users                                                        by `email` (case-insensitive)
    a service's integrations and heartbeats                      by `key` when the file gives
                                                                 one, else by `name` in the service
    a user's contact methods                                     by (`kind`, `address`)
    rules                                                        by position in their list

A nested list left out (`null`) is left alone: `contact_methods`, `overrides`, `members`,
`integrations`, `heartbeats`, `rules`, `maintenance_windows`. An empty list means "none".
Top-level objects absent from the file are left alone unless the apply prunes.

Keys (integrations', routers' and heartbeats', 32 lower-case hex characters as PagerDuty's) are
secrets: a file may state one (to keep a key its senders already use) or leave it out, and
Tocsin makes one; `export` writes every key, so what it writes applies back unchanged.

Rules are the rules' own JSON (see actors/domain/rules), with two differences: no `id`, and a
router rule's `route_to` (and a router's `catch_all.route_to`) names a service rather than
giving its id.

These are plain frozen dataclasses: the domain imports no validation library. At the edge,
pydantic validates a document into them (`TypeAdapter(Document)`, which also gives the JSON
Schema: the `Annotated` bounds and the attribute docstrings below become its constraints and
descriptions), and `document_data` turns one back into plain data for YAML.

A small example:

    teams:
      - name: payments
        members: [{user: ada@example.com, role: admin}]
    users:
      - name: Ada Lovelace
        email: ada@example.com
        time_zone: Europe/London
        contact_methods:
          - kind: sms
            address: "+447700900123"
            notification_rules: [{urgency: high, delay_minutes: 0}]
    schedules:
      - name: payments-primary
        team: payments
        time_zone: Europe/London
        layers:
          - name: weekly
            rotation: {participants: [ada@example.com], start: "2024-01-01T09:00:00+00:00",
                       shift_length: 1, unit: weeks, handoff: "09:00"}
    escalation_policies:
      - name: payments
        team: payments
        levels:
          - delay_minutes: 15
            targets: [{schedule: payments-primary}, {user: ada@example.com}]
    services:
      - name: checkout
        team: payments
        escalation_policy: payments
        integrations: [{name: prometheus, type: alertmanager}]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import annotated_types as at

# Read by pydantic at the edge (a plain dict: no import of it here).
_STRICT: dict[str, Any] = {"extra": "forbid", "use_attribute_docstrings": True}

Name = Annotated[str, at.MinLen(1), at.MaxLen(255)]
Description = Annotated[str, at.MaxLen(4096)]
Email = Annotated[str, at.MinLen(3), at.MaxLen(254)]
TimeZone = Annotated[str, at.MinLen(1), at.MaxLen(64)]
Key = Annotated[str, at.MinLen(32), at.MaxLen(32)]
IntegrationKey = Annotated[str, at.MinLen(32), at.MaxLen(36)]
"""32 lower-case hex characters; or 36, an Opsgenie API key kept by an `opsgenie` integration."""
Role = Literal["viewer", "responder", "admin"]
Urgency = Literal["high", "low"]
ContactKind = Literal["sms", "voice", "push", "email", "slack", "webhook", "teams"]
IntegrationType = Literal["pagerduty", "alertmanager", "grafana", "opsgenie", "generic", "email"]
RouterFormat = Literal["pagerduty", "alertmanager", "grafana", "opsgenie", "generic"]
Minutes = Annotated[int, at.Ge(0), at.Le(1440)]
Rule = Mapping[str, Any]
"""A rule as actors/domain/rules reads it, without `id`; checked by the rules' own compiler."""


@dataclasses.dataclass(frozen=True)
class Member:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    user: Email
    """The member's e-mail address."""
    role: Role = "responder"
    """What they may do with the team's objects."""


@dataclasses.dataclass(frozen=True)
class Team:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    members: tuple[Member, ...] | None = None
    """Every member; left out: the members are left as they are."""


@dataclasses.dataclass(frozen=True)
class NotificationRule:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    urgency: Urgency
    delay_minutes: Minutes = 0
    """Minutes after the user is paged."""


@dataclasses.dataclass(frozen=True)
class ContactMethod:
    """Known by (kind, address) within its user. Applied by an admin, it is verified: the
    operator who wrote the file vouches for the address (no code is sent)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    kind: ContactKind
    address: Annotated[str, at.MinLen(1), at.MaxLen(2048)]
    label: Annotated[str, at.MaxLen(255)] = ""
    notification_rules: tuple[NotificationRule, ...] = ()
    """When this method is used for the user's pages, by urgency."""


@dataclasses.dataclass(frozen=True)
class User:
    """A person who can be paged. No password: people log in with one they set, or by single sign-on."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    email: Email
    """Names the user everywhere else in the file."""
    time_zone: TimeZone = "UTC"
    role: Role = "responder"
    contact_methods: tuple[ContactMethod, ...] | None = None
    """Every contact method (browsers' web push subscriptions aside); left out: left as they are."""


@dataclasses.dataclass(frozen=True)
class Window:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    day: Annotated[int, at.Ge(0), at.Le(6)]
    """0 = Monday … 6 = Sunday"""
    start: str
    """Wall-clock time HH:MM in the schedule's zone."""
    end: str
    """HH:MM; at or before start: the window ends on the next day."""


@dataclasses.dataclass(frozen=True)
class Restriction:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    windows: Annotated[tuple[Window, ...], at.MinLen(1), at.MaxLen(50)]


@dataclasses.dataclass(frozen=True)
class Rotation:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    participants: Annotated[tuple[Email, ...], at.MinLen(1), at.MaxLen(100)]
    """Users' e-mail addresses, in turn order."""
    start: datetime
    """When the first participant's turn begins, with a UTC offset."""
    shift_length: Annotated[int, at.Ge(1), at.Le(1000)]
    unit: Literal["hours", "days", "weeks"]
    handoff: str = "00:00"
    """Wall-clock time HH:MM of the handoffs, in the schedule's zone."""


@dataclasses.dataclass(frozen=True)
class Layer:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    rotation: Rotation
    priority: Annotated[int, at.Ge(-1000), at.Le(1000)] = 0
    """A higher layer covers lower ones where it has someone."""
    restriction: Restriction | None = None
    """Left out: on call all the time."""


@dataclasses.dataclass(frozen=True)
class Override:
    """Known by (user, start, end) within its schedule."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    user: Email
    start: datetime
    end: datetime


@dataclasses.dataclass(frozen=True)
class Schedule:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    time_zone: TimeZone
    team: Name | None = None
    """The team that owns it; left out: no team."""
    description: Description = ""
    layers: Annotated[tuple[Layer, ...], at.MaxLen(20)] = ()
    overrides: tuple[Override, ...] | None = None
    """Every override; left out: left as they are."""
    owner: Email | None = None
    """The user told when an incoming person misses a reachability check."""
    reachability_check: bool = False
    check_lead_minutes: Annotated[int, at.Ge(1), at.Le(1440)] = 60


@dataclasses.dataclass(frozen=True)
class Target:
    """Exactly one of the two."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    user: Email | None = None
    schedule: Name | None = None


@dataclasses.dataclass(frozen=True)
class Level:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    targets: Annotated[tuple[Target, ...], at.MinLen(1), at.MaxLen(50)]
    delay_minutes: Annotated[int, at.Ge(1), at.Le(1440)] = 30
    """Minutes to wait for an acknowledgement, then the next level."""


@dataclasses.dataclass(frozen=True)
class EscalationPolicy:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    levels: Annotated[tuple[Level, ...], at.MinLen(1), at.MaxLen(50)]
    team: Name | None = None
    description: Description = ""
    repeat: Annotated[int, at.Ge(0), at.Le(9)] = 0
    """How many more times to walk all the levels."""


@dataclasses.dataclass(frozen=True)
class Integration:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    type: IntegrationType
    name: Annotated[str, at.MaxLen(255)] = ""
    key: IntegrationKey | None = None
    """Its routing key (a secret); left out: Tocsin makes one. An `opsgenie` integration may keep an
    Opsgenie API key (36 characters), so its senders only change their base URL."""
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Options of the integration's type."""


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    interval_seconds: Annotated[int, at.Ge(10), at.Le(86_400)]
    grace_seconds: Annotated[int, at.Ge(0), at.Le(86_400)] = 60
    key: Key | None = None
    """Its ping key (a secret); left out: Tocsin makes one."""


@dataclasses.dataclass(frozen=True)
class MaintenanceWindow:
    """Known by (start, end) within its service."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    start: datetime
    end: datetime
    reason: Annotated[str, at.MaxLen(1024)] = ""


@dataclasses.dataclass(frozen=True)
class Service:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    team: Name | None = None
    description: Description = ""
    escalation_policy: Name | None = None
    urgency: Literal["high", "low", "severity"] = "high"
    """severity: high for critical and error alerts, low for warning and info."""
    auto_resolve_minutes: Annotated[int, at.Ge(1), at.Le(60 * 24 * 30)] | None = None
    max_unacknowledged: Annotated[int, at.Ge(1), at.Le(100_000)] | None = None
    integrations: tuple[Integration, ...] | None = None
    """Every live integration; left out: left as they are."""
    heartbeats: tuple[Heartbeat, ...] | None = None
    rules: tuple[Rule, ...] | None = None
    """The service's rules, in order."""
    maintenance_windows: tuple[MaintenanceWindow, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Router:
    """A router integration: sends each alert to a service by its content."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    name: Name
    format: RouterFormat
    catch_all: Mapping[str, Any]
    """Where what no rule matched goes: {route_to: service name} or {drop: true}."""
    team: Name | None = None
    key: Key | None = None
    rules: tuple[Rule, ...] | None = None
    """Its routes, in order; each `route_to` names a service."""


@dataclasses.dataclass(frozen=True)
class Document:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT
    version: Literal[1] = 1
    teams: tuple[Team, ...] = ()
    users: tuple[User, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    escalation_policies: tuple[EscalationPolicy, ...] = ()
    services: tuple[Service, ...] = ()
    routers: tuple[Router, ...] = ()
    inhibit_rules: tuple[Rule, ...] | None = None
    """The inhibit rules, in order; left out: left as they are."""


def document_data(value: Any, *, defaults: bool = False) -> Any:
    """A document (or any part of it) as plain data for YAML or JSON: fields left out (None)
    are omitted, and so are fields at their default unless `defaults`; instants are ISO 8601 text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if item is None or (not defaults and item == _default(field)):
                continue
            data[field.name] = document_data(item, defaults=defaults)
        return data
    if isinstance(value, Mapping):
        return {str(key): document_data(item, defaults=defaults) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [document_data(item, defaults=defaults) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING
