"""The Ray Serve application: one ingress deployment carrying ingestion and the REST API."""

from __future__ import annotations

from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from tocsin.actors.lifecycle import tune_garbage_collection
from tocsin.actors.settings import Settings
from tocsin.serve import runtime
from tocsin.serve.api import (
    audit,
    calendar,
    channels,
    checks,
    config,
    contacts,
    health,
    heartbeats,
    incidents,
    integrations,
    maintenance,
    oncall,
    policies,
    push,
    reports,
    rule_samples,
    rules,
    schedules,
    services,
    shift_notices,
    slack_link,
    teams,
    users,
    verification,
)
from tocsin.serve import metrics
from tocsin.serve import dashboard, demo_phone
from tocsin.serve.api import passwords, session, setup, sso, tokens
from tocsin.serve import stream
from tocsin.serve.api import notes
from tocsin.serve.auditing import AuditTrail
from tocsin.serve.body_limit import BodyLimit
from tocsin.serve.errors import install_handlers
from tocsin.serve.openapi import document_refusals
from tocsin.serve.ingest import formats
from tocsin.serve.ingest import heartbeat as heartbeat_pings
from tocsin.serve.route_limits import replica_limits
from tocsin.serve.webhooks import slack as slack_webhooks
from tocsin.serve.webhooks import twilio as twilio_webhooks


def create_api() -> FastAPI:
    api = FastAPI(
        title="Tocsin",
        summary="On-call alerting: alerts in, incidents out, people paged until someone acknowledges.",
        version="0.1.0",
    )
    install_handlers(api)
    api.add_middleware(AuditTrail)  # inside BodyLimit: it reads only bodies within their limits
    api.add_middleware(BodyLimit, limits=replica_limits)
    ingestion = (declared.routes for declared in formats.FORMATS if declared.routes is not None)
    routers = (
        health.router, slack_webhooks.router, *ingestion, twilio_webhooks.router, services.router, incidents.router,
        users.router, slack_link.router, contacts.router, verification.router, policies.router, schedules.router, oncall.router,
        calendar.router, channels.router, maintenance.router, heartbeats.router, heartbeat_pings.router,
        rules.router, rule_samples.router, integrations.router, shift_notices.router, checks.router, push.router,
        reports.router,
        teams.router, config.router, audit.router,
    )
    for router in routers:
        api.include_router(router)
    api.include_router(metrics.router)
    api.include_router(setup.page_router)  # before the dashboard's /ui/{section}
    api.include_router(demo_phone.pages)  # likewise; 404 but in `tocsin demo`
    api.include_router(demo_phone.api)
    api.include_router(dashboard.router)
    api.include_router(notes.router)
    api.include_router(stream.router)
    for router in (session.router, setup.router, sso.router, tokens.router, passwords.router):
        api.include_router(router)
    document_refusals(api, [(prefix, declared.refusal_model) for prefix, declared in formats.refusal_prefixes()])
    return api


api = create_api()


@serve.deployment(max_ongoing_requests=2000, graceful_shutdown_timeout_s=5, graceful_shutdown_wait_loop_s=0.5)
@serve.ingress(api)
class Gateway:
    """Ingress replica: validates and batches events toward the shards, serves the API."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        # The Settings object itself, not a JSON dump: a dump would mask the secrets.
        runtime.install(runtime.GatewayRuntime(settings, database_url))
        tune_garbage_collection()

    async def __del__(self) -> None:
        """Serve calls it when the replica stops: the routing rules' last match counts are kept."""
        await runtime.installed().close()


def build_app(settings: Settings, database_url: str) -> Application:
    """The Serve application for these settings (the database URL already resolved)."""
    return Gateway.options(  # type: ignore[attr-defined,no-any-return]
        num_replicas=settings.gateway_replicas,
        ray_actor_options={"num_cpus": settings.gateway_cpus},
    ).bind(settings, database_url)
