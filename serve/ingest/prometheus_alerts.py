"""Alertmanager-shaped notifications (Prometheus Alertmanager's webhook, and Grafana's, which
copies it) and how their alerts become Tocsin's alert events.

Pure: the wire models and the mapping, with no I/O. By default each alert is its own incident,
keyed by its fingerprint: firing triggers it, resolved resolves it. Grouped by `groupKey`, a
notification's group is one incident: each firing alert is an occurrence of it, and the group
resolves when the notification says it is resolved.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from tocsin.actors.domain.events import Action, AlertEvent, Severity

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
    DETAILS: ClassVar[tuple[str, ...]] = ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL")

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field("", max_length=FINGERPRINT_LIMIT)

    def details(self) -> dict[str, Any]:
        """What the incident keeps of this alert (`_json` writes its instants)."""
        return _fields(self, self.DETAILS)


class NotificationIn(BaseModel):
    """A notification: a group of alerts, as Alertmanager's webhook sends it."""

    model_config = ConfigDict(extra="allow")
    DETAILS: ClassVar[tuple[str, ...]] = ("receiver", "externalURL", "groupKey")

    groupKey: str = ""
    truncatedAlerts: int = Field(0, ge=0)
    status: AlertStatus
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: Sequence[AlertIn] = Field(min_length=1)

    def details(self) -> dict[str, Any]:
        """What each incident keeps of the notification its alert came in."""
        return _fields(self, self.DETAILS)


class AlertmanagerIn(NotificationIn):
    """Prometheus Alertmanager's webhook, version 4."""

    version: Literal["4"] = "4"


class GrafanaAlertIn(AlertIn):
    """One alert of a Grafana notification: Alertmanager's, with values and links."""

    DETAILS: ClassVar[tuple[str, ...]] = AlertIn.DETAILS + ("values", "valueString")
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

    def details(self) -> dict[str, Any]:
        links = [{"href": getattr(self, field), "text": text} for field, text in self.LINKS.items()
                 if getattr(self, field)]
        return {**super().details(), "links": links}


class GrafanaIn(NotificationIn):
    """Grafana unified alerting's webhook (contact point of type webhook), version 1."""

    DETAILS: ClassVar[tuple[str, ...]] = NotificationIn.DETAILS + ("orgId", "title")

    version: Literal["1"] = "1"
    orgId: int | None = None
    alerts: Sequence[GrafanaAlertIn] = Field(min_length=1)
    title: str = ""
    state: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a notification's events go, and when it came."""

    service_id: str
    integration_id: str | None
    received_at: datetime


def events_of(notification: NotificationIn, grouping: Grouping, prefix: str, target: Target) -> list[AlertEvent]:
    """The alert events of one notification, in order; dedup keys start with `prefix`."""
    if grouping == "group_key":
        return _group_events(notification, prefix, target)
    shared = notification.details()
    return [
        _alert_event(shared, alert, f"{prefix}:{fingerprint_of(alert)}", target)
        for alert in notification.alerts
    ]


def _group_events(notification: NotificationIn, prefix: str, target: Target) -> list[AlertEvent]:
    dedup_key = f"{prefix}:group:{group_id(notification)}"
    if notification.status == "resolved":
        details = {**notification.details(), "status": "resolved"}
        return [_event(target, dedup_key, Action.RESOLVE, payload=_json(details))]
    shared = notification.details()
    return [_alert_event(shared, alert, dedup_key, target) for alert in notification.alerts
            if alert.status == "firing"]


def _alert_event(shared: dict[str, Any], alert: AlertIn, dedup_key: str, target: Target) -> AlertEvent:
    """`shared`: the details of the notification the alert came in."""
    details = {**shared, **alert.details(), "fingerprint": fingerprint_of(alert)}
    return _event(target, dedup_key, Action.TRIGGER if alert.status == "firing" else Action.RESOLVE,
                  summary=summary_of(alert), severity=severity_of(alert.labels), source=source_of(alert.labels),
                  payload=_json(details))


def _event(target: Target, dedup_key: str, action: Action, **fields: Any) -> AlertEvent:
    return AlertEvent(event_id=str(uuid.uuid4()), service_id=target.service_id,
                      integration_id=target.integration_id, dedup_key=dedup_key, action=action,
                      received_at=target.received_at, **fields)


def fingerprint_of(alert: AlertIn) -> str:
    """The alert's own fingerprint, else the one computed from its labels."""
    return alert.fingerprint or label_fingerprint(alert.labels)


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' fingerprint of a label set, as 16 hex digits; the labels' order is irrelevant."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + _SEPARATOR + labels[name].encode() + _SEPARATOR:
            value = ((value ^ byte) * _FNV_PRIME) & _U64
    return f"{value:016x}"


def group_id(notification: NotificationIn) -> str:
    """A short, stable name for the notification's group (its groupKey, else its group labels)."""
    group = notification.groupKey or label_fingerprint(notification.groupLabels)
    return hashlib.sha256(group.encode()).hexdigest()[:32]


def summary_of(alert: AlertIn) -> str | None:
    """annotations.summary, else annotations.description, else labels.alertname."""
    for text in (alert.annotations.get("summary"), alert.annotations.get("description"), alert.labels.get("alertname")):
        if text and text.strip():
            return text.strip()[:SUMMARY_LIMIT]
    return None


def severity_of(labels: Mapping[str, str]) -> Severity:
    """labels.severity when Tocsin knows it ("page" is critical); critical otherwise."""
    return _SEVERITIES.get(labels.get("severity", "").strip().lower(), Severity.CRITICAL)


def source_of(labels: Mapping[str, str]) -> str | None:
    source = labels.get("instance") or labels.get("job")
    return source[:SOURCE_LIMIT] if source else None


def _fields(model: BaseModel, names: tuple[str, ...]) -> dict[str, Any]:
    # Read straight off the model: model_dump(mode="json") cost more than the rest of an
    # alert's mapping together, in a storm of hundreds of alerts per request.
    return {name: getattr(model, name) for name in names}


def _json(details: dict[str, Any]) -> str:
    # Instants as pydantic's JSON mode writes them: ISO 8601, "Z" for UTC.
    return orjson.dumps(details, option=orjson.OPT_UTC_Z).decode()
