"""The alert as rules see it: its normalised fields and its original payload, read-only.

`view_of(format, payload, ...)` is built once per alert, before any rule runs, and costs a few
dict lookups: it does not copy the payload (callers must not change it while the view is in
use). Every rule set (router, service, inhibition) reads the same view; no rule changes it, so
every rule sees the alert as it arrived, whatever earlier rules decided.

What each wire format contributes besides the normalised fields (summary, severity, source,
dedup_key, action, and `format`, the integration's wire format), `payload` being the alert's
payload as stored:

- pagerduty: the event as sent, without its routing key. `details` (alias `custom_details`) is
  payload.custom_details; `class`, `component` and `group` are payload.class and so on.
- alertmanager, grafana: one alert with its notification's keys (receiver, groupKey…).
  `labels` and `annotations` are the alert's.
- opsgenie: the alert as created. `details`, `tags`, `priority` and `entity` are its own.
- generic, email: the object. `details` is the object itself.

Fields a format does not have read as absent. Anything else is reachable as
`payload.<dotted path>` into the payload as stored (so a PagerDuty field is
`payload.payload.class`, as the event nests it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

EMPTY: Mapping[str, Any] = MappingProxyType({})


class AlertView(NamedTuple):
    """One alert, read-only; `labels`, `annotations` and `details` are empty when the format has
    none. Values inside the payload are JSON values (str, int, float, bool, None, list, dict).
    A named tuple: it is built for every alert, and costs a quarter of a frozen dataclass."""

    format: str
    summary: str | None
    severity: str | None
    source: str | None
    dedup_key: str | None
    action: str | None
    payload: Mapping[str, Any]
    labels: Mapping[str, Any] = EMPTY
    annotations: Mapping[str, Any] = EMPTY
    details: Mapping[str, Any] = EMPTY
    tags: tuple[Any, ...] | None = None
    class_: Any = None
    component: Any = None
    group: Any = None
    priority: Any = None
    entity: Any = None


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else EMPTY


def _pagerduty(payload: Mapping[str, Any]) -> dict[str, Any]:
    body = _object(payload.get("payload"))
    return {"details": _object(body.get("custom_details")), "class_": body.get("class"),
            "component": body.get("component"), "group": body.get("group")}


def _alertmanager(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"labels": _object(payload.get("labels")), "annotations": _object(payload.get("annotations"))}


def _opsgenie(payload: Mapping[str, Any]) -> dict[str, Any]:
    tags = payload.get("tags")
    return {"details": _object(payload.get("details")), "tags": tuple(tags) if isinstance(tags, list) else None,
            "priority": payload.get("priority"), "entity": payload.get("entity")}


def _the_object(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"details": payload}


# The one place a wire format is told how its payload maps to the fields of rules.
FORMATS: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = MappingProxyType({
    "pagerduty": _pagerduty,
    "alertmanager": _alertmanager,
    "grafana": _alertmanager,
    "opsgenie": _opsgenie,
    "generic": _the_object,
    "email": _the_object,
})


def view_of(format: str, payload: Mapping[str, Any], *, summary: str | None = None, severity: str | None = None,
            source: str | None = None, dedup_key: str | None = None, action: str | None = None) -> AlertView:
    """The view of one alert of `format` (a key of FORMATS; ValueError otherwise). `payload` is
    the alert's payload as stored (JSON parsed into a dict); the keyword fields are the
    normalised ones, as plain strings or str enums (Severity.CRITICAL reads as "critical")."""
    shape = FORMATS.get(format)
    if shape is None:
        raise ValueError(f"no rule mapping for the format {format!r}; known: {', '.join(FORMATS)}")
    return AlertView(format, _plain(summary), _plain(severity), _plain(source), _plain(dedup_key), _plain(action),
                     payload, **shape(payload))


def _plain(value: str | None) -> str | None:
    # A str enum compares equal to its value but is not `str` itself, which the operators test for.
    if value is None or type(value) is str:
        return value
    return str(getattr(value, "value", value))
