"""The gateway with the shards and the database stood in for: one integration key, shards
that record what they are given (or fail to make it durable), and a database that is down
(after the routing rules were read: there are none)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.routing_keys import KeyCache, KeyGate
from tocsin.actors.settings import Settings
from tocsin.actors.store.rules import Snapshot
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve import runtime as runtime_module
from tocsin.serve.app import create_api

# Nothing listens on port 1: whatever touches the database fails at once, as when it is down.
NO_DATABASE = "postgresql://127.0.0.1:1/none"


class FakeShards:
    """Every input opens incident 1, but those `refuse` answers for; with `fail`, nothing is durable."""

    def __init__(self) -> None:
        self.received: list[object] = []
        self.fail = False
        self.refuse: Callable[[object], Reply | None] = lambda item: None

    async def submit(self, item: object) -> Reply:
        [reply] = await self.submit_many([item])
        return reply

    async def submit_many(self, items: list[object]) -> list[Reply]:
        if self.fail:
            raise BatchFailed("commit failed")
        self.received.extend(items)
        return [self.refuse(item) or Reply("opened", 1, "triggered") for item in items]


@contextmanager
def gateway(key: str, integration_type: str) -> Iterator[tuple[TestClient, FakeShards]]:
    """A client of the API whose only integration has `key`, limited to 0.5 events/s, burst 2."""
    settings = Settings(rate_limit_per_s=0.5, rate_limit_burst=2, admin_token="t")
    runtime = runtime_module.GatewayRuntime(settings, database_url=NO_DATABASE)
    runtime.rules.load(Snapshot(generation=1, sets={}, routers={}))  # no routing rules, as read before it went down

    async def find(candidate: str) -> IntegrationKey | None:
        return IntegrationKey("integration-1", "service-1", integration_type, False) if candidate == key else None

    runtime.keys = KeyCache(find, ttl_s=60)
    runtime.key_gate = KeyGate.for_settings(runtime.keys, settings)
    shards = FakeShards()
    runtime.shards = shards  # type: ignore[assignment]
    runtime_module.install(runtime)
    with TestClient(create_api()) as client:
        yield client, shards
