"""What a monitoring source sees when commits fail or shards die: 202 only when durable."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import httpx
import pytest
import ray

from tocsin.actors.ownership import shard_index, shard_name
from tests.client import create_service, trigger
from tests.conftest import E2E_NAMESPACE

SHARDS = 2  # as the `tocsin` fixture starts it


def make_service(tocsin: Any, admin_token: str, name: str) -> tuple[str, str]:
    service = create_service(tocsin.base_url, admin_token, name)
    return service.id, service.key


def event(key: str, dedup_key: str) -> dict[str, Any]:
    return trigger(key, dedup_key, summary=f"{dedup_key} failing", source="probe", severity="error")


@pytest.fixture
def poison_trigger(db):
    """Make Postgres refuse any raw alert whose dedup key is 'poison' (a commit that fails)."""
    db("execute", """
        CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
        BEGIN
            IF NEW.dedup_key = 'poison' THEN RAISE EXCEPTION 'poisoned alert'; END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION refuse_poison();
    """)
    yield
    db("execute", "DROP TRIGGER IF EXISTS refuse_poison ON alerts; DROP FUNCTION IF EXISTS refuse_poison()")


def test_failed_commit_answers_503_and_stores_nothing(tocsin, admin_token, db, poison_trigger):
    service_id, key = make_service(tocsin, admin_token, "poisoned")
    response = httpx.post(f"{tocsin.base_url}/v2/enqueue", json=event(key, "poison"))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert db("fetchval", "SELECT count(*) FROM incidents WHERE service_id = $1::uuid", service_id) == 0

    db("execute", "DROP TRIGGER refuse_poison ON alerts")
    retried = httpx.post(f"{tocsin.base_url}/v2/enqueue", json=event(key, "poison"))
    assert retried.status_code == 202
    # The shard kept nothing of the failed batch: the retry opens the incident afresh.
    assert db("fetchval", "SELECT occurrences FROM incidents WHERE service_id = $1::uuid", service_id) == 1


async def test_shard_killed_mid_stream_loses_nothing_that_got_202(tocsin, admin_token, db):
    services = [make_service(tocsin, admin_token, f"storm-{n}") for n in range(4)]
    victims = {shard_index(service_id, SHARDS) for service_id, _ in services}
    accepted: collections.Counter[tuple[str, str]] = collections.Counter()
    answers: collections.Counter[int] = collections.Counter()
    stop_at = time.monotonic() + 8

    async def sender(client: httpx.AsyncClient, worker: int) -> None:
        n = 0
        while time.monotonic() < stop_at:
            service_id, key = services[(worker + n) % len(services)]
            dedup_key = f"k{(worker * 7 + n) % 25}"
            n += 1
            response = await client.post("/v2/enqueue", json=event(key, dedup_key))
            answers[response.status_code] += 1
            if response.status_code == 202:
                accepted[(service_id, dedup_key)] += 1
            else:
                assert response.status_code == 503, response.text  # never 500, never a silent drop

    async def killer() -> None:
        await asyncio.sleep(2.5)
        for index in sorted(victims):
            handle = ray.get_actor(shard_name(index), namespace=E2E_NAMESPACE)
            await asyncio.to_thread(ray.kill, handle, no_restart=False)

    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=tocsin.base_url, limits=limits, timeout=30) as client:
        await asyncio.gather(killer(), *(sender(client, w) for w in range(16)))

    assert answers[202] > 100, answers
    rows = db("fetch", "SELECT service_id::text, dedup_key, occurrences, status FROM incidents"
                       " WHERE service_id = ANY($1::uuid[])", [s for s, _ in services])
    stored = {(r["service_id"], r["dedup_key"]): r["occurrences"] for r in rows}
    assert len(rows) == len(stored), "a dedup key opened two incidents"
    assert all(r["status"] == "triggered" for r in rows)
    # Every 202 is in the database, exactly once; a 503 may or may not have landed.
    for incident, count in accepted.items():
        assert stored[incident] >= count, incident
    alerts = db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = ANY($1::uuid[])",
                [s for s, _ in services])
    assert sum(stored.values()) == alerts
    assert alerts - sum(accepted.values()) <= answers[503]

    # The restarted shards serve again.
    for service_id, key in services:
        assert httpx.post(f"{tocsin.base_url}/v2/enqueue", json=event(key, "after-restart")).status_code == 202
