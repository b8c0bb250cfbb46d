"""What a gateway replica holds: settings, the database, the way to the shards.

One per replica process, installed by the deployment's constructor and handed to routes
through `get_runtime`, a FastAPI dependency; `get_database` hands routes its database alone.
"""

from __future__ import annotations

import logging
from datetime import datetime

import ray
from fastapi import Depends, Request

from tocsin.actors.bus import BusAddress, open_bus
from tocsin.actors.nudger import ChannelNudger
from tocsin.actors.providers.settings import SlackSettings
from tocsin.actors.providers.slack_web import SlackWebApi
from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.identity_provider import IdentityProvider
from tocsin.actors.store import services as service_store
from tocsin.actors.store.database import UNAVAILABLE, Database
from tocsin.actors.store.services import IntegrationKey
from tocsin.actors.settings import Settings
from tocsin.serve.forwarded import Ingress, address_key, client_address
from tocsin.actors.routing_keys import KeyCache, KeyGate
from tocsin.actors.rule_tally import RuleTally
from tocsin.actors.rulebook import NO_INHIBIT_RULES, RuleBook
from tocsin.serve.inhibitor import Inhibitor
from tocsin.serve.ingest.ruling import Ruling
from tocsin.serve.retention import RetentionJob
from tocsin.actors.domain.ratelimit import RateLimiter
from tocsin.actors.shard_router import ShardRouter

log = logging.getLogger(__name__)


class GatewayRuntime:
    def __init__(self, settings: Settings, database_url: str, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.database = Database(database_url, max_size=8, command_timeout=30)
        self.shards = ShardRouter.for_settings(settings)
        self.keys = KeyCache(self._find_key, settings.key_cache_ttl_s)
        self.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        self.key_gate = KeyGate.for_settings(self.keys, settings)
        self.ingress = Ingress.of_this_process(_node_addresses)
        self.retention = RetentionJob(self.database.pool, settings.alert_retention_days, self.now,
                                      settings.audit_retention_days)
        self.channels = ChannelNudger(settings.namespace)
        self.bus = open_bus(BusAddress.for_settings(settings))  # read by the live stream
        self.rules = RuleBook(self.database)  # routing rules, compiled; polled from the first request on
        inhibitor = Inhibitor(self.database, self.bus, NO_INHIBIT_RULES, self.now)
        self.ruling = Ruling(self.rules, RuleTally(self.database), inhibitor)  # the rules acting on every alert
        self.slack = _slack_web_api(settings)  # answers to one Slack user, when a bot token is set
        # Single sign-on's provider, when configured; it keeps what it discovered.
        self.identity_provider = IdentityProvider(settings) if settings.sso_enabled else None

    async def close(self) -> None:
        """Before the replica goes: what the rules counted is flushed (a database away loses it)."""
        try:
            await self.ruling.stop()
        except UNAVAILABLE as exc:
            log.warning("the routing rules' last match counts are lost: %r", exc)

    def forget_keys(self, *keys: str) -> None:
        """Drop `keys` from this replica's key cache once the change to them is committed: a
        lookup between a drop and the commit would cache them as they were."""
        def forget() -> None:
            for key in keys:
                self.keys.forget(key)

        self.database.after_commit(forget)

    def now(self) -> datetime:
        return self.clock.now()

    async def client_address(self, request: Request) -> str:
        """What the request's client counts against in per-address limits (serve/forwarded.py)."""
        return address_key(await self.real_address(request))

    async def real_address(self, request: Request) -> str:
        """The request's client as far as it can be believed (serve/forwarded.py), whole."""
        peer = request.client.host if request.client else None
        hops = await self.ingress.trusted_hops(peer, self.settings.trusted_proxy_hops)
        return client_address(peer, request.headers.getlist("x-forwarded-for"), hops)

    async def _find_key(self, key: str) -> IntegrationKey | None:
        async with self.database.connection() as conn:
            return await service_store.find_key(conn, key)


def _slack_web_api(settings: Settings) -> SlackWebApi | None:
    slack = SlackSettings.of(settings)
    if slack.bot_token is None:
        return None
    return SlackWebApi(slack.bot_token, slack.api_url, slack.allowed_destinations, slack.timeout_s)


def _node_addresses() -> list[str]:
    return [node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]]


_current: GatewayRuntime | None = None


def install(runtime: GatewayRuntime) -> None:
    global _current
    _current = runtime


def installed() -> GatewayRuntime:
    """This replica's runtime; RuntimeError until the deployment's constructor installed it."""
    if _current is None:
        raise RuntimeError("no gateway runtime installed in this process")
    return _current


async def get_runtime() -> GatewayRuntime:
    # async on purpose: FastAPI runs sync dependencies in a thread pool, per request.
    current = installed()
    current.retention.start()  # a running loop is needed: the first request has one
    current.ruling.start()
    return current


async def get_database(runtime: GatewayRuntime = Depends(get_runtime)) -> Database:
    """This replica's database, for routes that need nothing else of the runtime. A route
    takes a connection from it where its work starts and hands it back where it ends
    (`async with db.connection() as conn`), so no connection waits on a request's
    validation, its credentials' check or a shard; but for an audited change, whose one
    connection and transaction the audit trail holds for the whole request, so that the
    change and its audit entry commit together (serve/auditing.py)."""
    return runtime.database
