"""Alertmanager-shaped notifications (Prometheus Alertmanager's webhook, and Grafana's, which
copies it) and how their alerts become Tocsin's alert events.

Pure: the wire models and the mapping, with no I/O. Each shape is declared twice: as pydantic
models, which document it (OpenAPI) and word what is wrong with a body they refuse, and as
msgspec Structs, which read it: a notification of hundreds of alerts costs a tenth of the
models' time that way. `decoded` reads with the Structs, and lets the models judge whatever
the Structs refuse (they are the stricter), so that what is taken and what is refused, and
why, stay the models' own. `decoded_json` reads a body as sent, JSON text, in one pass, where
that pass reads it as parsing it first would. By default each alert is its own incident,
keyed by its fingerprint: firing triggers it, resolved resolves it. Grouped by `groupKey`, a
notification's group is one incident: each firing alert is an occurrence of it, and the group
resolves when the notification says it is resolved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec
import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tocsin.actors.domain.events import Action, AlertEvent, Column, Severity, alert_events_of_columns, event_ids

Grouping = Literal["fingerprint", "group_key"]
AlertStatus = Literal["firing", "resolved"]

SUMMARY_LIMIT = 1024
SOURCE_LIMIT = 255
FINGERPRINT_LIMIT = 128

# Prometheus' label hashing (FNV-1a, 64 bits, a 0xff after each name and value): a computed
# fingerprint is the one Alertmanager itself would have sent.
_FNV_OFFSET, _FNV_PRIME, _U64 = 14695981039346656037, 1099511628211, 2**64 - 1
_SEPARATOR = b"\xff"

_SEVERITIES = {s.value: s for s in Severity} | {"page": Severity.CRITICAL}


class AlertIn(BaseModel):
    """One alert of an Alertmanager notification."""

    model_config = ConfigDict(extra="allow")

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field("", max_length=FINGERPRINT_LIMIT)


class NotificationIn(BaseModel):
    """A notification: a group of alerts, as Alertmanager's webhook sends it."""

    model_config = ConfigDict(extra="allow")

    groupKey: str = ""
    truncatedAlerts: int = Field(0, ge=0)
    status: AlertStatus
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: Sequence[AlertIn] = Field(min_length=1)


class AlertmanagerIn(NotificationIn):
    """Prometheus Alertmanager's webhook, version 4."""

    version: Literal["4"] = "4"


class GrafanaAlertIn(AlertIn):
    """One alert of a Grafana notification: Alertmanager's, with values and links."""

    LINKS: ClassVar[dict[str, str]] = {
        "generatorURL": "Alert rule", "dashboardURL": "Dashboard", "panelURL": "Panel",
        "silenceURL": "Silence", "imageURL": "Image",
    }

    values: dict[str, float | None] | None = None
    valueString: str = ""
    silenceURL: str = ""
    dashboardURL: str = ""
    panelURL: str = ""
    imageURL: str = ""


class GrafanaIn(NotificationIn):
    """Grafana unified alerting's webhook (contact point of type webhook), version 1."""

    version: Literal["1"] = "1"
    orgId: int | None = None
    alerts: Sequence[GrafanaAlertIn] = Field(min_length=1)
    title: str = ""
    state: str = ""
    message: str = ""


# -- the Structs that read them ----------------------------------------------------------

_INSTANT = TypeAdapter(datetime)


@lru_cache(maxsize=4096)
def instant_text(text: str) -> str:
    """An instant as the models read it (pydantic's own parser: msgspec's rounds nanoseconds,
    pydantic's truncates them), written as the details keep it: ISO 8601, "Z" for UTC.
    Cached: an alert's startsAt comes again with each repeat, and endsAt is mostly
    Alertmanager's "0001-01-01T00:00:00Z". ValueError when it is no instant."""
    try:
        return orjson.dumps(_INSTANT.validate_python(text), option=orjson.OPT_UTC_Z)[1:-1].decode()
    except ValidationError:
        raise ValueError("not an instant") from None


def _instant_text(text: str | None) -> str | None:
    return None if text is None else instant_text(text)


class AlertWire(msgspec.Struct, kw_only=True, gc=False):
    """`AlertIn`, read by msgspec; its instants are parsed as pydantic parses them, and checked
    once the notification is read (`checked`)."""

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    starts_at: str | None = msgspec.field(default=None, name="startsAt")
    ends_at: str | None = msgspec.field(default=None, name="endsAt")
    generatorURL: str = ""
    fingerprint: Annotated[str, msgspec.Meta(max_length=FINGERPRINT_LIMIT)] = ""

    def payload(self, shared: dict[str, Any], fingerprint: str) -> dict[str, Any]:
        """Its event's details, as JSON values: the notification's `shared` ones, what the
        incident keeps of this alert (`AlertIn.DETAILS`), its fingerprint; one dict an alert."""
        payload = dict(shared)
        self._add_details(payload)
        payload["fingerprint"] = fingerprint
        return payload

    def _add_details(self, payload: dict[str, Any]) -> None:
        payload["status"] = self.status
        payload["labels"] = self.labels
        payload["annotations"] = self.annotations
        payload["startsAt"] = _instant_text(self.starts_at)
        payload["endsAt"] = _instant_text(self.ends_at)
        payload["generatorURL"] = self.generatorURL


class NotificationWire(msgspec.Struct, kw_only=True, gc=False):
    """`NotificationIn`, read by msgspec."""

    DETAILS: ClassVar[tuple[str, ...]] = ("receiver", "externalURL", "groupKey")

    groupKey: str = ""
    truncatedAlerts: Annotated[int, msgspec.Meta(ge=0)] = 0
    status: AlertStatus
    receiver: str = ""
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str = ""
    alerts: Annotated[list[AlertWire], msgspec.Meta(min_length=1)]

    def details(self) -> dict[str, Any]:
        """What each incident keeps of the notification its alert came in."""
        return _fields(self, self.DETAILS)


class AlertmanagerWire(NotificationWire, kw_only=True, gc=False):
    version: Literal["4"] = "4"


class GrafanaAlertWire(AlertWire, kw_only=True, gc=False):
    """`GrafanaAlertIn`, read by msgspec."""

    values: dict[str, float | None] | None = None
    valueString: str = ""
    silenceURL: str = ""
    dashboardURL: str = ""
    panelURL: str = ""
    imageURL: str = ""

    def _add_details(self, payload: dict[str, Any]) -> None:
        super()._add_details(payload)
        payload["values"] = self.values
        payload["valueString"] = self.valueString
        payload["links"] = [{"href": getattr(self, field), "text": text} for field, text in GrafanaAlertIn.LINKS.items()
                            if getattr(self, field)]


class GrafanaWire(NotificationWire, kw_only=True, gc=False):
    """`GrafanaIn`, read by msgspec."""

    DETAILS: ClassVar[tuple[str, ...]] = NotificationWire.DETAILS + ("orgId", "title")

    version: Literal["1"] = "1"
    orgId: int | None = None
    alerts: Annotated[list[GrafanaAlertWire], msgspec.Meta(min_length=1)]  # type: ignore[assignment]
    title: str = ""
    state: str = ""
    message: str = ""


W = TypeVar("W", bound=NotificationWire)


def checked(notification: W) -> W:
    """The notification, once each instant of its alerts is one: ValueError otherwise, which its
    readers take for a refusal, so that the models say why. Each distinct text is checked once,
    here rather than in each alert's `__post_init__`, which a notification of a hundred alerts
    sharing a few instants would call a hundred times."""
    alerts = notification.alerts
    for text in {alert.starts_at for alert in alerts} | {alert.ends_at for alert in alerts}:
        if text is not None:
            instant_text(text)
    return notification


def decoded(body: Any, wire: type[W], model: type[NotificationIn]) -> W:
    """The notification of `body` (JSON, parsed), read by `wire`; what `wire` refuses, `model`
    judges: pydantic's ValidationError when it refuses it too, else what it took (it coerces
    a few values the Structs do not, such as "5" for an integer), read by `wire` again."""
    try:
        return checked(msgspec.convert(body, wire))
    except (msgspec.ValidationError, ValueError):
        taken = model.model_validate(body)
    return msgspec.convert(taken.model_dump(mode="json"), wire)


# -- reading a body as sent, in one pass -------------------------------------------------
# A body parsed by orjson (which refuses what is no JSON) and then read by `decoded` is gone
# over twice. `decoded_json` goes over it once, with Structs that take only what orjson parses
# to the same values:
# - no field they do not know: msgspec passes over the value of an unknown field without
#   refusing all that orjson refuses (invalid UTF-8, a number beyond a double, nesting past
#   1,024 levels). Alertmanager and Grafana send no other fields;
# - integers within int64's bounds (which are msgspec's): orjson reads one beyond 64 bits as
#   a float, which the models then read otherwise, or refuse.
# What they refuse is read in two passes, as before, so that each refusal keeps its words. A
# key sent twice is read as orjson reads it: its last value counts (msgspec refuses the body
# when either value is not one the Struct takes).
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


class _AlertSent(AlertWire, forbid_unknown_fields=True, kw_only=True, gc=False):
    """`AlertWire`, knowing no other fields."""


class _GrafanaAlertSent(GrafanaAlertWire, forbid_unknown_fields=True, kw_only=True, gc=False):
    """`GrafanaAlertWire`, knowing no other fields."""


class _AlertmanagerSent(AlertmanagerWire, forbid_unknown_fields=True, kw_only=True, gc=False):
    """`AlertmanagerWire`, knowing no other fields, its integers within int64's bounds."""

    truncatedAlerts: Annotated[int, msgspec.Meta(ge=0, le=_I64_MAX)] = 0
    alerts: Annotated[list[_AlertSent], msgspec.Meta(min_length=1)]  # type: ignore[assignment]


class _GrafanaSent(GrafanaWire, forbid_unknown_fields=True, kw_only=True, gc=False):
    """`GrafanaWire`, knowing no other fields, its integers within int64's bounds."""

    truncatedAlerts: Annotated[int, msgspec.Meta(ge=0, le=_I64_MAX)] = 0
    orgId: Annotated[int, msgspec.Meta(ge=_I64_MIN, le=_I64_MAX)] | None = None
    alerts: Annotated[list[_GrafanaAlertSent], msgspec.Meta(min_length=1)]  # type: ignore[assignment]


_ONE_PASS: dict[type[NotificationWire], msgspec.json.Decoder[Any]] = {
    AlertmanagerWire: msgspec.json.Decoder(_AlertmanagerSent), GrafanaWire: msgspec.json.Decoder(_GrafanaSent)}


def decoded_json(body: bytes, wire: type[W]) -> W | None:
    """The notification of `body`, JSON as sent, read by `wire` in one pass, as `decoded` reads
    it once orjson has parsed it; None where the one pass cannot tell: what it refuses, and a
    field `wire` does not know (then parse the body, and let `decoded` read it or refuse it)."""
    try:
        notification: W = _ONE_PASS[wire].decode(body)
        return checked(notification)
    except (msgspec.DecodeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """Where a notification's events go, and when it came."""

    service_id: str
    integration_id: str | None
    received_at: datetime


def events_of(notification: NotificationWire, grouping: Grouping, prefix: str, target: Target) -> list[AlertEvent]:
    """The alert events of one notification, in order; dedup keys start with `prefix`."""
    return alert_events(notification, grouping, prefix, target)[0]


def alert_events(notification: NotificationWire, grouping: Grouping, prefix: str, target: Target
                 ) -> tuple[list[AlertEvent], list[dict[str, Any]]]:
    """`events_of`, with each event's details: its payload before it was written as JSON, which
    the routing rules read (the same values, read back, as JSON values all). The events are
    made a field at a time over all alerts (`alert_events_of_columns`), what they share given
    once: for a storm's notification, two fifths less than making each with its constructor."""
    shared = notification.details()
    if grouping == "group_key":
        dedup_key = f"{prefix}:group:{group_id(notification)}"
        if notification.status == "resolved":
            details = {**shared, "status": "resolved"}
            return [AlertEvent(event_ids(1)[0], target.service_id, target.integration_id, dedup_key, Action.RESOLVE,
                               target.received_at, payload=orjson.dumps(details).decode())], [details]
        alerts = [alert for alert in notification.alerts if alert.status == "firing"]
        fingerprints = list(map(fingerprint_of, alerts))
        keys: Column = (dedup_key,)
    else:
        alerts = notification.alerts
        fingerprints = list(map(fingerprint_of, alerts))
        keys = [f"{prefix}:{fingerprint}" for fingerprint in fingerprints]
    payloads = [alert.payload(shared, fingerprint) for alert, fingerprint in zip(alerts, fingerprints)]
    labels = list(map(_LABELS, alerts))
    events = alert_events_of_columns(len(alerts), (
        event_ids(len(alerts)), (target.service_id,), (target.integration_id,), keys,
        list(map(_ACTIONS.__getitem__, map(_STATUS, alerts))), (target.received_at,),
        list(map(summary_of, alerts)), list(map(severity_of, labels)), list(map(source_of, labels)),
        list(map(bytes.decode, map(orjson.dumps, payloads))),
    ))
    return events, payloads


_LABELS, _STATUS = attrgetter("labels"), attrgetter("status")
_ACTIONS = {"firing": Action.TRIGGER, "resolved": Action.RESOLVE}


def fingerprint_of(alert: AlertWire) -> str:
    """The alert's own fingerprint, else the one computed from its labels."""
    return alert.fingerprint or label_fingerprint(alert.labels)


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' fingerprint of a label set, as 16 hex digits; the labels' order is irrelevant."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + _SEPARATOR + labels[name].encode() + _SEPARATOR:
            value = ((value ^ byte) * _FNV_PRIME) & _U64
    return f"{value:016x}"


def group_id(notification: NotificationWire) -> str:
    """A short, stable name for the notification's group (its groupKey, else its group labels)."""
    group = notification.groupKey or label_fingerprint(notification.groupLabels)
    return hashlib.sha256(group.encode()).hexdigest()[:32]


def summary_of(alert: AlertWire) -> str | None:
    """annotations.summary, else annotations.description, else labels.alertname (the first
    that is not blank, stripped)."""
    annotations = alert.annotations
    text = ((annotations.get("summary") or "").strip() or (annotations.get("description") or "").strip()
            or (alert.labels.get("alertname") or "").strip())
    return text[:SUMMARY_LIMIT] or None


def severity_of(labels: Mapping[str, str]) -> Severity:
    """labels.severity when Tocsin knows it ("page" is critical); critical otherwise."""
    return severity_named(labels.get("severity", ""))


@lru_cache(maxsize=256)
def severity_named(text: str) -> Severity:
    """The severity a label's text names; cached, as a storm's alerts name a few."""
    return _SEVERITIES.get(text.strip().lower(), Severity.CRITICAL)


def source_of(labels: Mapping[str, str]) -> str | None:
    source = labels.get("instance") or labels.get("job")
    return source[:SOURCE_LIMIT] if source else None


def _fields(model: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(model, name) for name in names}
