"""Every format Tocsin takes alerts in, declared once, in FORMATS.

A format is an integration type. Its declaration says which options its integrations take,
the routes its sources call (none for e-mail, which comes by SMTP to the listener,
serve/ingest/email_listener.py), the function that maps what a source sends onto alert
events (and, for JSON, the one that makes them of a whole body), where a source sends, and how
the source's own API says no. From FORMATS, and nothing else: the gateway includes the routes
(serve/app.py), the REST API checks an integration's options and tells where its source sends
(serve/api/services.py), reads a sample as ingestion would to test rules (serve/api/rules.py),
the body limit refuses in each route's shape (serve/route_limits.py) and the OpenAPI document
names that shape (serve/openapi.py).

Adding a format is adding its declaration to FORMATS and its name to IntegrationType.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import MappingProxyType
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from tocsin.actors.domain.events import AlertEvent
from tocsin.actors.settings import Settings
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.ingest import generic, mail, opsgenie, opsgenie_models, pagerduty
from tocsin.serve.ingest.alert_receiver import GroupingConfig, Notification, notification_events, notification_routes
from tocsin.serve.ingest.common import IntegrationConfig, Refusal
from tocsin.serve.ingest.prometheus_alerts import (
    AlertmanagerIn,
    AlertmanagerWire,
    GrafanaIn,
    GrafanaWire,
    events_of,
)
from tocsin.serve.openapi import ErrorOut, OpsgenieErrorOut, PagerDutyErrorOut

IntegrationType = Literal["pagerduty", "alertmanager", "grafana", "opsgenie", "generic", "email"]
"""The formats' kinds, in FORMATS' order: a Literal, which the type checker reads (a
declaration's kind must be one) and the REST API's schema lists. A test holds it equal to
FORMATS' kinds, so neither grows without the other."""


@dataclass(frozen=True, slots=True)
class Format:
    """One integration type: its options, routes, mapping, address and refusals."""

    kind: IntegrationType
    config: type[IntegrationConfig]  # the options its integrations take
    routes: APIRouter | None  # None: it comes by another way than HTTP
    # The function mapping what a source sends onto alert events: where the format is read.
    mapping: Callable[..., object]
    # Where a source sends, for an integration's key: {base_url}, {email_domain} and {key}.
    address: str
    # The alert events ingestion makes of what a source sent (its JSON, parsed), for an
    # integration, at an instant; a Refusal as its routes refuse it. None: it comes otherwise
    # than as JSON (e-mail). The rules API's test reads samples by it.
    events: Callable[[Any, IntegrationKey, datetime], list[AlertEvent]] | None
    refuse: Callable[[Refusal], Response] = Refusal.response  # a refusal in its source's shape
    refusal_model: type[BaseModel] = ErrorOut  # that shape, for the OpenAPI document

    def address_of(self, key: str, settings: Settings) -> str:
        """Where a source sends for the integration with this key: a URL, or an e-mail address."""
        return self.address.format(key=key, base_url=settings.base_url, email_domain=settings.email_domain)

    def path_prefixes(self) -> tuple[str, ...]:
        """Where its routes are: the fewest path prefixes that every route's path starts with
        (each route's path up to its first parameter)."""
        routes = self.routes.routes if self.routes else []
        paths = sorted({route.path.split("{", 1)[0] for route in routes if isinstance(route, APIRoute)})
        prefixes: list[str] = []
        for path in paths:
            if not any(path.startswith(prefix) for prefix in prefixes):
                prefixes.append(path)
        return tuple(prefixes)


ALERTMANAGER = Notification(kind="alertmanager", name="Alertmanager", tag="Prometheus Alertmanager",
                            model=AlertmanagerIn, wire=AlertmanagerWire, dedup_prefix="am")
GRAFANA = Notification(kind="grafana", name="Grafana", tag="Grafana alerting", model=GrafanaIn, wire=GrafanaWire,
                       dedup_prefix="grafana")


def _notifications(kind: IntegrationType, source: Notification) -> Format:
    """An Alertmanager-shaped format: its routes made from its `Notification`."""
    return Format(kind, GroupingConfig, notification_routes(source), mapping=events_of,
                  address=f"{{base_url}}{source.path}/{{key}}", events=partial(notification_events, source))


FORMATS: tuple[Format, ...] = (
    # PagerDuty Events API v2; the routing key is in the body.
    Format("pagerduty", IntegrationConfig, pagerduty.router, mapping=pagerduty.to_event,
           address="{base_url}/v2/enqueue", events=pagerduty.events_of_body, refuse=pagerduty.answer,
           refusal_model=PagerDutyErrorOut),
    _notifications("alertmanager", ALERTMANAGER),
    _notifications("grafana", GRAFANA),
    # Opsgenie Alert API v2; the key is in the GenieKey header.
    Format("opsgenie", IntegrationConfig, opsgenie.router, mapping=opsgenie_models.to_event,
           address="{base_url}/v2/alerts", events=opsgenie.events_of_body, refuse=opsgenie.refused,
           refusal_model=OpsgenieErrorOut),
    Format("generic", generic.GenericConfig, generic.router, mapping=generic.map_alert,
           address="{base_url}/integrations/generic/{key}", events=generic.events_of_body),
    # E-mail to the integration's own address.
    Format("email", mail.EmailConfig, routes=None, mapping=mail.alert_of, address="{key}@{email_domain}",
           events=None),
)

BY_KIND: Mapping[str, Format] = MappingProxyType({declared.kind: declared for declared in FORMATS})

CONFIG_MODELS: Mapping[str, type[IntegrationConfig]] = MappingProxyType(
    {declared.kind: declared.config for declared in FORMATS})


def refusal_prefixes() -> list[tuple[str, Format]]:
    """Each path prefix of the formats' routes, with its format: a request there is refused
    in that format's shape."""
    return [(prefix, declared) for declared in FORMATS for prefix in declared.path_prefixes()]
