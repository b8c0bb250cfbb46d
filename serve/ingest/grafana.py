"""Grafana unified alerting's webhook contact point: `POST /integrations/grafana/{key}`.

Grafana's body is Alertmanager's with more to it: each alert's query values and its links
(rule, dashboard, panel, silence, image), which the incident keeps. Dedup keys are
`grafana:<fingerprint>`, or one per group with the option `group_by: group_key`. The key
may also come as `Authorization: Bearer <key>` to `/integrations/grafana`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tocsin.serve.ingest.alert_receiver import Format, GroupingConfig, bearer_key, receive
from tocsin.serve.ingest.common import CONFIG_MODELS, body_schema
from tocsin.serve.ingest.prometheus_alerts import GrafanaIn
from tocsin.serve.runtime import GatewayRuntime, get_runtime


class GrafanaConfig(GroupingConfig):
    """Options of a Grafana integration."""


FORMAT = Format(kind="grafana", name="Grafana", model=GrafanaIn, config=GrafanaConfig, prefix="grafana")
CONFIG_MODELS[FORMAT.kind] = GrafanaConfig

router = APIRouter(tags=["Grafana alerting"])


@router.post("/integrations/grafana/{key}", openapi_extra=body_schema(GrafanaIn),
             summary="Receive a Grafana notification")
async def notify(key: str, request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    return await receive(FORMAT, key, request, runtime)


@router.post("/integrations/grafana", openapi_extra=body_schema(GrafanaIn),
             summary="Receive a Grafana notification (key as a Bearer token)")
async def notify_with_bearer(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    return await receive(FORMAT, bearer_key(request), request, runtime)
