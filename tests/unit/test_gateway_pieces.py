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

from tocsin.actors.domain.events import Severity
from tocsin.actors.ownership import shard_index
from tocsin.actors.store.services import IntegrationKey, is_routing_key, new_routing_key
from tocsin.actors.settings import Settings
from tocsin.serve.ingest.pagerduty import AlertEventIn, ChangeEventIn
from tocsin.actors.routing_keys import KeyCache, KeyGate, MalformedKey, TooManyUnknownKeys
from tocsin.actors.domain.ratelimit import BoundedRateLimiter, RateLimiter

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


async def test_key_cache_is_bounded_dropping_the_least_recently_used_one_at_a_time(
    database: FakeKeys, clock: FakeMonotonic
) -> None:
    keys = {f"{n:032x}": integration(f"svc-{n}") for n in range(4)}
    database.keys.update(keys)
    cache = KeyCache(database.load, ttl_s=60, clock=clock, capacity=3)
    first, second, third, fourth = keys
    for key in (first, second, third):
        await cache.get(key)
    await cache.get(first)  # used again: now the second is the least recently used

    await cache.get(fourth)

    assert len(cache) == 3
    assert [cache.known(k) is not None for k in keys] == [True, False, True, True]


async def test_key_cache_keeps_keys_in_use_through_a_flood_of_unknown_keys(
    cache: KeyCache, database: FakeKeys, clock: FakeMonotonic
) -> None:
    cache = KeyCache(database.load, ttl_s=60, clock=clock, capacity=10, unknown_capacity=100)
    await cache.get(ROUTING_KEY)

    for n in range(10_000):
        assert await cache.get(f"{n:032x}") is None

    assert len(cache) == 101  # the unknown keys took only their own room
    assert cache.known(ROUTING_KEY) == integration()
    assert database.loads[ROUTING_KEY] == 1


async def test_key_cache_remembers_the_latest_unknown_keys_for_the_ttl(
    database: FakeKeys, clock: FakeMonotonic
) -> None:
    cache = KeyCache(database.load, ttl_s=2, clock=clock, unknown_capacity=2)
    unknown = [f"{n:032x}" for n in range(3)]
    for key in unknown:
        await cache.get(key)
    clock.advance(1)

    for key in reversed(unknown):
        await cache.get(key)

    # The first was dropped (two at most), so looked up again; the other two were not.
    assert [database.loads[k] for k in unknown] == [2, 1, 1]
    clock.advance(2)
    await cache.get(unknown[1])
    assert database.loads[unknown[1]] == 2


async def test_key_cache_a_key_that_comes_to_exist_is_found_after_the_ttl(
    cache: KeyCache, database: FakeKeys, clock: FakeMonotonic
) -> None:
    new_key = "f" * 32
    assert await cache.get(new_key) is None
    database.keys[new_key] = integration("svc-new")
    clock.advance(2.0)

    assert await cache.get(new_key) == integration("svc-new")
    assert cache.known(new_key) == integration("svc-new")


# -- the key format and the gate ----------------------------------------------------


def test_a_routing_key_is_32_characters_of_lower_case_hexadecimal() -> None:
    assert all(is_routing_key(new_routing_key()) for _ in range(100))
    assert is_routing_key("0123456789abcdef" * 2)
    for wrong in ("", "a" * 31, "a" * 33, "A" * 32, "g" * 32, "a" * 31 + "\n", " " + "a" * 31, "é" * 32,
                  "０" * 32, "a" * 16 + "-" * 16):
        assert not is_routing_key(wrong), wrong


HERE = "203.0.113.9"


def gate(database: FakeKeys, clock: FakeMonotonic, burst: int = 3) -> KeyGate:
    return KeyGate(KeyCache(database.load, ttl_s=2.0, clock=clock), RateLimiter(1.0, burst, clock=clock))


async def from_(address: str) -> str:
    return address


async def test_a_malformed_key_is_refused_without_a_lookup(database: FakeKeys, clock: FakeMonotonic) -> None:
    keys = gate(database, clock)
    for malformed in ("r" * 31, "x" * 32, "R" * 32, "r" * 100_000):
        with pytest.raises(MalformedKey):
            await keys.find(malformed, lambda: from_(HERE))

    assert not database.loads
    assert keys.unknown.wait(HERE) is None  # nothing charged to the address


async def test_unknown_keys_are_charged_to_the_address_and_past_its_budget_not_looked_up(
    database: FakeKeys, clock: FakeMonotonic
) -> None:
    keys = gate(database, clock, burst=3)
    for n in range(3):
        assert await keys.find(f"{n:032x}", lambda: from_(HERE)) is None

    with pytest.raises(TooManyUnknownKeys) as refused:
        await keys.find("9" * 32, lambda: from_(HERE))

    assert refused.value.retry_after_s == 1
    assert database.loads["9" * 32] == 0
    assert await keys.find("9" * 32, lambda: from_("198.51.100.1")) is None  # another address is not limited
    clock.advance(1.0)
    assert await keys.find("8" * 32, lambda: from_(HERE)) is None  # the budget refills


async def test_a_known_key_is_served_to_an_address_over_its_budget(
    database: FakeKeys, clock: FakeMonotonic
) -> None:
    database.keys["a" * 32] = integration()
    keys = gate(database, clock, burst=1)
    assert await keys.find("a" * 32, lambda: from_("198.51.100.1")) == integration()
    assert await keys.find("0" * 32, lambda: from_(HERE)) is None

    assert await keys.find("a" * 32, lambda: from_(HERE)) == integration()
    with pytest.raises(TooManyUnknownKeys):
        await keys.find("0" * 32, lambda: from_(HERE))  # unknown keys remembered are charged too
    clock.advance(60)  # long past the TTL, and the budget refilled and spent again
    assert await keys.find("1" * 32, lambda: from_(HERE)) is None

    assert await keys.find("a" * 32, lambda: from_(HERE)) == integration()
    assert database.loads["a" * 32] == 2  # looked up again, whatever the address's budget


async def test_the_client_address_is_not_worked_out_for_a_cached_key(
    database: FakeKeys, clock: FakeMonotonic
) -> None:
    database.keys["a" * 32] = integration()
    keys = gate(database, clock)
    await keys.find("a" * 32, lambda: from_(HERE))

    async def unwanted() -> str:
        raise AssertionError("the address was asked for")

    assert await keys.find("a" * 32, unwanted) == integration()


def test_rate_limiter_wait_tells_without_taking(clock: FakeMonotonic) -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=1, clock=clock)

    assert limiter.wait("k") is None
    assert limiter.wait("k") is None
    limiter.take("k")
    assert limiter.wait("k") == pytest.approx(0.5)


def test_rate_limiter_with_a_bound_forgets_the_least_recently_taken_bucket(clock: FakeMonotonic) -> None:
    limiter = BoundedRateLimiter(rate_per_s=1.0, burst=1, max_keys=2, clock=clock)
    for key in ("a", "b", "a", "c"):
        limiter.take(key)

    assert limiter.wait("a") is not None and limiter.wait("c") is not None
    assert limiter.wait("b") is None  # forgotten: a full bucket again


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

    from tocsin.actors.store.services import IntegrationKey, is_routing_key, new_routing_key
    from tocsin.actors.routing_keys import KeyCache, KeyGate, MalformedKey, TooManyUnknownKeys

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
