"""The gateway's small parts: rate limiting, the routing-key cache, shard ownership,
settings, and the PagerDuty Events API v2 request models."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from actors.domain.events import Severity
from actors.ownership import shard_index
from actors.store.services import IntegrationKey
from cluster.settings import Settings
from serve.ingest.pagerduty import AlertEventIn, ChangeEventIn
from serve.keys import KeyCache
from actors.domain.ratelimit import RateLimiter

ROUTING_KEY = "r" * 32


class FakeMonotonic:
    """A monotonic clock in seconds that tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


# -- RateLimiter ----------------------------------------------------------------------


def takes(limiter: RateLimiter, key: str, times: int) -> list[float | None]:
    return [limiter.take(key) for _ in range(times)]


def test_rate_limiter_allows_a_burst_then_refuses(clock: FakeMonotonic) -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)

    assert takes(limiter, "k", 3) == [None, None, None]
    assert limiter.take("k") == pytest.approx(0.5)


def test_rate_limiter_retry_after_is_the_time_until_a_whole_token(clock: FakeMonotonic) -> None:
    limiter = RateLimiter(rate_per_s=4.0, burst=1, clock=clock)
    limiter.take("k")

    clock.advance(0.1)  # 0.4 of a token back: 0.6 of a token at 4/s is 0.15 s away

    assert limiter.take("k") == pytest.approx(0.15)


def test_rate_limiter_refills_at_its_rate(clock: FakeMonotonic) -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    takes(limiter, "k", 3)

    clock.advance(0.5)

    assert limiter.take("k") is None
    assert limiter.take("k") is not None


def test_rate_limiter_refills_no_further_than_the_burst(clock: FakeMonotonic) -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    takes(limiter, "k", 3)

    clock.advance(3600)

    assert takes(limiter, "k", 4) == [None, None, None, pytest.approx(0.5)]


def test_rate_limiter_keeps_one_bucket_per_key(clock: FakeMonotonic) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1, clock=clock)

    assert limiter.take("a") is None
    assert limiter.take("a") is not None
    assert limiter.take("b") is None


# -- KeyCache -------------------------------------------------------------------------


def integration(service_id: str = "svc-1", *, revoked: bool = False) -> IntegrationKey:
    return IntegrationKey(integration_id="int-1", service_id=service_id, type="events_api_v2", revoked=revoked)


class FakeKeys:
    """The database's integration keys, counting lookups per routing key."""

    def __init__(self, keys: dict[str, IntegrationKey]) -> None:
        self.keys = keys
        self.loads: Counter[str] = Counter()

    async def load(self, routing_key: str) -> IntegrationKey | None:
        self.loads[routing_key] += 1
        return self.keys.get(routing_key)


@pytest.fixture
def database() -> FakeKeys:
    return FakeKeys({ROUTING_KEY: integration()})


@pytest.fixture
def cache(database: FakeKeys, clock: FakeMonotonic) -> KeyCache:
    return KeyCache(database.load, ttl_s=2.0, clock=clock)


async def test_key_cache_serves_hits_from_memory_within_the_ttl(
    cache: KeyCache, database: FakeKeys, clock: FakeMonotonic
) -> None:
    assert await cache.get(ROUTING_KEY) == integration()
    clock.advance(1.9)

    assert await cache.get(ROUTING_KEY) == integration()
    assert database.loads[ROUTING_KEY] == 1


async def test_key_cache_remembers_unknown_keys_within_the_ttl(
    cache: KeyCache, database: FakeKeys, clock: FakeMonotonic
) -> None:
    assert await cache.get("unknown") is None
    clock.advance(1.9)

    assert await cache.get("unknown") is None
    assert database.loads["unknown"] == 1


async def test_key_cache_reloads_once_the_ttl_has_passed(
    cache: KeyCache, database: FakeKeys, clock: FakeMonotonic
) -> None:
    await cache.get(ROUTING_KEY)
    database.keys[ROUTING_KEY] = integration(revoked=True)
    clock.advance(2.0)

    assert await cache.get(ROUTING_KEY) == integration(revoked=True)
    assert database.loads[ROUTING_KEY] == 2


async def test_key_cache_forget_forces_a_reload(cache: KeyCache, database: FakeKeys) -> None:
    await cache.get(ROUTING_KEY)
    del database.keys[ROUTING_KEY]

    cache.forget(ROUTING_KEY)

    assert await cache.get(ROUTING_KEY) is None
    assert database.loads[ROUTING_KEY] == 2


async def test_key_cache_forget_of_an_uncached_key_is_harmless(cache: KeyCache) -> None:
    cache.forget("never-seen")

    assert await cache.get(ROUTING_KEY) == integration()


# -- shard ownership ------------------------------------------------------------------


def service_ids(count: int) -> list[str]:
    rng = random.Random(20260101)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def test_shard_index_is_the_same_on_every_call_and_in_every_process() -> None:
    assert [shard_index("service-1", 1024) for _ in range(3)] == [112, 112, 112]
    # Pinned: a salted hash() would give another value in another process.
    assert shard_index("payments", 4) == 2


@pytest.mark.parametrize("shard_count", [1, 2, 7, 1024])
def test_shard_index_is_in_range(shard_count: int) -> None:
    indexes = {shard_index(service_id, shard_count) for service_id in service_ids(200)}

    assert indexes <= set(range(shard_count))


def test_shard_index_spreads_services_over_every_shard() -> None:
    per_shard = Counter(shard_index(service_id, 4) for service_id in service_ids(1000))

    assert sorted(per_shard) == [0, 1, 2, 3]
    assert min(per_shard.values()) > 150  # 250 expected; far below would mean a skewed hash


# -- Settings -------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without any TOCSIN_* variable the machine may have set."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"TOCSIN_{name.upper()}", raising=False)
    return monkeypatch


def test_settings_read_tocsin_variables(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("TOCSIN_PORT", "9100")
    env.setenv("TOCSIN_SHARDS", "8")
    env.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    env.setenv("TOCSIN_DATABASE_URL", "postgresql://db/tocsin")
    env.setenv("TOCSIN_BATCH_MAX_DELAY_MS", "2.5")

    settings = Settings.from_env()

    assert (settings.port, settings.shards, settings.data_dir) == (9100, 8, tmp_path)
    assert settings.database_url == "postgresql://db/tocsin"
    assert settings.batch_max_delay_ms == 2.5
    assert settings.host == "127.0.0.1"  # untouched fields keep their defaults


def test_settings_cli_overrides_win_over_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("TOCSIN_PORT", "9100")
    env.setenv("TOCSIN_SHARDS", "8")

    settings = Settings.from_env(port=9200, shards=None)

    assert settings.port == 9200
    assert settings.shards == 8  # None means the CLI option was not given


def test_settings_ignore_empty_variables(env: pytest.MonkeyPatch) -> None:
    env.setenv("TOCSIN_PORT", "")

    assert Settings.from_env().port == 8000


def test_settings_refuse_an_invalid_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("TOCSIN_SHARDS", "0")

    with pytest.raises(ValidationError, match="shards"):
        Settings.from_env()


@pytest.mark.parametrize(("host", "base_url"), [
    ("0.0.0.0", "http://127.0.0.1:8000"),
    ("10.0.0.5", "http://10.0.0.5:8000"),
])
def test_settings_base_url_is_reachable_from_this_machine(host: str, base_url: str) -> None:
    assert Settings(host=host).base_url == base_url


# -- PagerDuty Events API v2 models ---------------------------------------------------


def full_trigger() -> dict[str, Any]:
    return {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "disk-full/db-1",
        "payload": {
            "summary": "Disk 95% full on db-1",
            "source": "db-1.prod",
            "severity": "warning",
            "timestamp": "2026-01-01T10:00:00.000+00:00",
            "component": "postgres",
            "group": "storage",
            "class": "disk",
            "custom_details": {"free_bytes": 1024, "mounts": ["/", "/var"]},
        },
        "links": [{"href": "https://runbooks.example/disk", "text": "Runbook"}],
        "images": [{"src": "https://grafana.example/disk.png", "href": "https://grafana.example", "alt": "Disk"}],
        "client": "Prometheus",
        "client_url": "https://prometheus.example",
    }


def test_a_full_trigger_event_validates() -> None:
    event = AlertEventIn.model_validate(full_trigger())

    assert event.payload is not None
    assert (event.payload.class_, event.payload.severity) == ("disk", Severity.WARNING)
    assert event.payload.custom_details == {"free_bytes": 1024, "mounts": ["/", "/var"]}
    assert event.links is not None and event.links[0].text == "Runbook"
    assert event.images is not None and event.images[0].alt == "Disk"
    assert event.model_dump(by_alias=True)["payload"]["class"] == "disk"


def test_an_acknowledge_needs_only_a_dedup_key() -> None:
    event = AlertEventIn.model_validate({"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "k"})

    assert (event.event_action, event.payload) == ("acknowledge", None)


def parent_of(event: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    *parents, last = path
    for part in parents:
        event = event[part]
    return event, last


def without(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        parent, name = parent_of(event, path)
        del parent[name]

    return change


def setting(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        parent, name = parent_of(event, path)
        parent[name] = value

    return change


def both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        for one in changes:
            one(event)

    return change


@pytest.mark.parametrize(("change", "field"), [
    pytest.param(without("payload"), "payload", id="trigger without payload"),
    pytest.param(both(setting("acknowledge", "event_action"), without("dedup_key")), "dedup_key",
                 id="acknowledge without dedup_key"),
    pytest.param(both(setting("resolve", "event_action"), without("dedup_key")), "dedup_key",
                 id="resolve without dedup_key"),
    pytest.param(setting("fatal", "payload", "severity"), "severity", id="severity fatal"),
    pytest.param(setting("x" * 1025, "payload", "summary"), "summary", id="summary of 1025 chars"),
    pytest.param(setting("k" * 256, "dedup_key"), "dedup_key", id="dedup_key of 256 chars"),
    pytest.param(setting("r" * 31, "routing_key"), "routing_key", id="routing_key of 31 chars"),
    pytest.param(setting("r" * 33, "routing_key"), "routing_key", id="routing_key of 33 chars"),
    pytest.param(setting("escalate", "event_action"), "event_action", id="unknown event_action"),
    pytest.param(setting("yes", "unexpected"), "unexpected", id="unknown top-level field"),
    pytest.param(setting("yes", "payload", "unexpected"), "unexpected", id="unknown payload field"),
    pytest.param(without("payload", "source"), "source", id="payload without source"),
])
def test_an_invalid_alert_event_is_refused(change: Callable[[dict[str, Any]], None], field: str) -> None:
    event = full_trigger()
    change(event)

    with pytest.raises(ValidationError, match=field):
        AlertEventIn.model_validate(event)


@pytest.mark.parametrize("change", [
    pytest.param(setting("x" * 1024, "payload", "summary"), id="summary of 1024 chars"),
    pytest.param(setting("k" * 255, "dedup_key"), id="dedup_key of 255 chars"),
])
def test_an_alert_event_at_the_limits_is_taken(change: Callable[[dict[str, Any]], None]) -> None:
    event = full_trigger()
    change(event)

    assert AlertEventIn.model_validate(event).routing_key == ROUTING_KEY


def change_event() -> dict[str, Any]:
    return {
        "routing_key": ROUTING_KEY,
        "payload": {"summary": "Deployed checkout v42", "source": "ci", "custom_details": {"sha": "abc123"}},
        "links": [{"href": "https://ci.example/builds/42"}],
    }


def test_a_change_event_validates() -> None:
    event = ChangeEventIn.model_validate(change_event())

    assert event.payload.summary == "Deployed checkout v42"
    assert event.payload.custom_details == {"sha": "abc123"}


@pytest.mark.parametrize("change", [
    pytest.param(without("payload"), id="without payload"),
    pytest.param(without("payload", "summary"), id="without summary"),
    pytest.param(setting("r" * 31, "routing_key"), id="routing_key of 31 chars"),
    pytest.param(setting("trigger", "event_action"), id="unknown top-level field"),
])
def test_an_invalid_change_event_is_refused(change: Callable[[dict[str, Any]], None]) -> None:
    event = change_event()
    change(event)

    with pytest.raises(ValidationError):
        ChangeEventIn.model_validate(event)


async def test_key_cache_loads_once_for_concurrent_misses() -> None:
    import asyncio

    from actors.store.services import IntegrationKey
    from serve.keys import KeyCache

    loads = 0
    release = asyncio.Event()

    async def load(key: str) -> IntegrationKey | None:
        nonlocal loads
        loads += 1
        await release.wait()
        return IntegrationKey("i", "s", "pagerduty", False)

    cache = KeyCache(load, ttl_s=60)
    waiting = [asyncio.ensure_future(cache.get("k")) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    found = await asyncio.gather(*waiting)
    assert loads == 1
    assert {f.integration_id for f in found if f} == {"i"} and len(found) == 20
