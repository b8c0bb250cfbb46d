"""Prometheus Alertmanager's webhook, version 4: `POST /integrations/alertmanager/{key}`.

Point a `webhook_configs` receiver at the integration's URL (or at
`/integrations/alertmanager` with the key in `http_config.authorization.credentials`).
By default each alert is an incident of its own (dedup key `am:<fingerprint>`); with the
option `group_by: group_key`, each notification group is one.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tocsin.serve.ingest.alert_receiver import Format, GroupingConfig, bearer_key, receive
from tocsin.serve.ingest.common import CONFIG_MODELS, body_schema
from tocsin.serve.ingest.prometheus_alerts import AlertmanagerIn
from tocsin.serve.runtime import GatewayRuntime, get_runtime


class AlertmanagerConfig(GroupingConfig):
    """Options of an Alertmanager integration."""


FORMAT = Format(kind="alertmanager", name="Alertmanager", model=AlertmanagerIn, config=AlertmanagerConfig,
                prefix="am")
CONFIG_MODELS[FORMAT.kind] = AlertmanagerConfig

# Endpoints are functions of this module, not made by a factory: a Serve replica then imports
# the module when it loads the app, and with it the options' entry in CONFIG_MODELS.
router = APIRouter(tags=["Prometheus Alertmanager"])


@router.post("/integrations/alertmanager/{key}", openapi_extra=body_schema(AlertmanagerIn),
             summary="Receive an Alertmanager notification")
async def notify(key: str, request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    return await receive(FORMAT, key, request, runtime)


@router.post("/integrations/alertmanager", openapi_extra=body_schema(AlertmanagerIn),
             summary="Receive an Alertmanager notification (key as a Bearer token)")
async def notify_with_bearer(request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    return await receive(FORMAT, bearer_key(request), request, runtime)
