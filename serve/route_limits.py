"""How large a request body each of Tocsin's routes takes, and how each says no.

Ingestion takes what PagerDuty takes (TOCSIN_MAX_BODY_BYTES, 512 KB) and refuses in each
source's own shape; logging in (and creating the first admin), providers' webhooks
(Twilio's, Slack's) and Web Push (subscriptions, actions) take little (64 KB); every other
route, the REST API, takes up to TOCSIN_MAX_API_BODY_BYTES (1 MB).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import Response

from tocsin.actors.settings import Settings
from tocsin.serve import runtime
from tocsin.serve.api import push, session, setup, sso
from tocsin.serve.body_limit import Limit, RouteLimits
from tocsin.serve.ingest.common import Refusal, too_large
from tocsin.serve.ingest.formats import refusal_prefixes

WEBHOOKS = "/webhooks/"  # providers calling back (Twilio's)
SLACK = "/integrations/slack/"  # Slack's button presses and slash commands
# Each ingestion route's prefix, and how its source's API answers a refusal.
INGESTION: dict[str, Callable[[Refusal], Response]] = {prefix: declared.refuse
                                                      for prefix, declared in refusal_prefixes()}


def route_limits(settings: Settings) -> RouteLimits:
    def limit(max_bytes: int, answer: Callable[[Refusal], Response] = Refusal.response) -> Limit:
        return Limit(max_bytes, lambda most: answer(too_large(most)))

    ingestion = [(prefix, limit(settings.max_body_bytes, answer)) for prefix, answer in INGESTION.items()]
    return RouteLimits(
        default=limit(settings.max_api_body_bytes),
        by_prefix=(
            (session.router.prefix, limit(settings.max_login_body_bytes)),
            (setup.router.prefix, limit(settings.max_login_body_bytes)),
            (sso.router.prefix, limit(settings.max_login_body_bytes)),  # before anyone is logged in, too
            (WEBHOOKS, limit(settings.max_webhook_body_bytes)),
            (push.router.prefix, limit(settings.max_webhook_body_bytes)),
            (SLACK, limit(settings.max_webhook_body_bytes)),
            *ingestion,
        ),
    )


def replica_limits() -> RouteLimits:
    """The limits of this replica's settings (installed by the deployment's constructor)."""
    return route_limits(runtime.installed().settings)
