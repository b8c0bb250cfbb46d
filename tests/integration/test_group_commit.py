"""A ServiceShard on real Ray and Postgres: group commit, idempotency, failed commits."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import ray

from tocsin.actors.domain.events import Action, AlertEvent
from tocsin.actors.lifecycle import YOUNG_COLLECTION_EVERY
from tocsin.actors.shard import ServiceShardActor, shard_options
from tests.integration.test_escalation_restart import kill_and_await_restart

NAMESPACE = "tocsin-integration"


@pytest.fixture
def shard(ray_address: str, database_url: str) -> Any:
    index = 100 + uuid.uuid4().int % 10_000  # a shard of its own; no gateway routes to it
    handle = ServiceShardActor.options(**shard_options(index, NAMESPACE)).remote(index, database_url)
    yield handle
    ray.kill(handle, no_restart=True)


def alert(service_id: str, key: str, action: Action = Action.TRIGGER, received_at: datetime | None = None) -> AlertEvent:
    return AlertEvent(
        event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key=key, action=action,
        received_at=received_at or datetime.now(timezone.utc), summary=f"{key} is down", payload='{"k": 1}',
    )


def test_concurrent_calls_share_transactions_and_all_land(shard, service_id, db):
    batches = [[alert(service_id, f"key-{(b * 50 + i) % 40}") for i in range(50)] for b in range(20)]
    replies = ray.get([shard.apply.remote(batch) for batch in batches], timeout=60)

    assert [len(r) for r in replies] == [50] * 20
    outcomes = [reply.outcome for batch in replies for reply in batch]
    assert outcomes.count("opened") == 40 and outcomes.count("occurrence") == 960
    stats = ray.get(shard.stats.remote())
    assert stats["inputs"] == 1000
    assert stats["transactions"] < 20  # calls that arrived during a commit joined the next one

    rows = db("fetch", "SELECT dedup_key, occurrences FROM incidents WHERE service_id = $1::uuid", service_id)
    assert len(rows) == 40 and sum(r["occurrences"] for r in rows) == 1000
    assert db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service_id) == 1000
    kinds = db("fetch", "SELECT CASE kind WHEN 'occurrences' THEN 'occurrence' ELSE kind END AS kind,"
                        " sum(coalesce(alerts, 1)) AS count FROM incident_log l JOIN incidents i ON i.id = l.incident_id"
                        " WHERE i.service_id = $1::uuid GROUP BY 1", service_id)
    # every alert on the timeline (a batch's occurrences of an incident share one entry that
    # counts them), and one entry per incident saying that nobody is paged (no policy)
    assert {r["kind"]: r["count"] for r in kinds} == {"triggered": 40, "occurrence": 960, "unpaged": 40}


def test_a_retried_call_is_applied_once(shard, service_id, db):
    # Received before the shard started: exactly what a call retried across a restart looks like.
    earlier = datetime.now(timezone.utc) - timedelta(minutes=1)
    batch = [alert(service_id, "disk", received_at=earlier) for _ in range(5)]
    first = ray.get(shard.apply.remote(batch))
    again = ray.get(shard.apply.remote(batch))

    assert [r.outcome for r in first] == ["opened"] + ["occurrence"] * 4
    assert [r.outcome for r in again] == ["duplicate"] * 5
    assert db("fetchval", "SELECT occurrences FROM incidents WHERE service_id = $1::uuid", service_id) == 5


def test_a_refused_commit_keeps_nothing_in_memory_or_database(shard, db):
    orphan = str(uuid.uuid4())  # no such service row (deleted meanwhile): the incident insert violates its foreign key
    refused = ray.get(shard.apply.remote([alert(orphan, "cpu"), alert(orphan, "cpu")]))
    assert [r.outcome for r in refused] == ["invalid", "invalid"]  # each on its own, found by splitting the group
    assert "service deleted" in (refused[0].note or "")
    assert db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", orphan) == 0

    db("execute", "INSERT INTO services (id, name) VALUES ($1, 'late')", orphan)
    replies = ray.get(shard.apply.remote([alert(orphan, "cpu")]))
    # Had the refused batch stayed in memory, this would be occurrence 3 of a phantom incident.
    assert replies[0].outcome == "opened"
    assert db("fetchval", "SELECT occurrences FROM incidents WHERE service_id = $1::uuid", orphan) == 1
    stats = ray.get(shard.stats.remote())
    assert (stats["refused_inputs"], stats["failed_transactions"]) == (2, 0)


def test_a_restarted_shard_reloads_open_incidents(shard, service_id, db):
    ray.get(shard.apply.remote([alert(service_id, "mem"), alert(service_id, "mem")]))
    kill_and_await_restart(shard)

    replies = ray.get(shard.apply.remote([alert(service_id, "mem")]), timeout=60)
    assert replies[0].outcome == "occurrence"
    assert db("fetchval", "SELECT occurrences FROM incidents WHERE service_id = $1::uuid", service_id) == 3


def test_resolve_and_retrigger_in_one_batch(shard, service_id, db):
    ray.get(shard.apply.remote([alert(service_id, "flap")]))
    replies = ray.get(shard.apply.remote([alert(service_id, "flap", Action.RESOLVE), alert(service_id, "flap")]))

    assert [r.outcome for r in replies] == ["resolved", "opened"]
    rows = db("fetch", "SELECT status FROM incidents WHERE service_id = $1::uuid ORDER BY id", service_id)
    assert [r["status"] for r in rows] == ["resolved", "triggered"]


def test_an_event_stored_long_ago_and_sent_again_is_answered_duplicate(shard, service_id, db):
    # A sender that re-sends with the same id but a fresh time (a heartbeat monitor after a
    # crash): past the retry window, the clash on the stored id makes the shard check them all.
    first = alert(service_id, "disk")
    later = alert(service_id, "disk")
    assert [r.outcome for r in ray.get(shard.apply.remote([first]))] == ["opened"]
    time.sleep(2.5)  # the shard is past its retry window: it checks no ids by itself
    again = AlertEvent(**{**{f: getattr(first, f) for f in first.__dataclass_fields__},
                          "received_at": datetime.now(timezone.utc)})

    replies = ray.get(shard.apply.remote([again, later]))

    assert [r.outcome for r in replies] == ["duplicate", "occurrence"]
    assert db("fetchval", "SELECT occurrences FROM incidents WHERE service_id = $1::uuid", service_id) == 2


def _storm_group(service_id: str, shard: Any, last: AlertEvent) -> tuple[list[Any], dict[str, Any]]:
    """Ten open incidents, then one call of 300 occurrences of them ending with `last`:
    the replies, and the shard's stats from before the call."""
    ray.get(shard.apply.remote([alert(service_id, f"known-{k}") for k in range(10)]))
    before = ray.get(shard.stats.remote())
    replies = ray.get(shard.apply.remote([alert(service_id, f"known-{i % 10}") for i in range(300)] + [last]))
    return replies, before


def test_in_a_storm_the_alerts_that_open_incidents_commit_before_the_occurrences(shard, service_id, db):
    replies, before = _storm_group(service_id, shard, alert(service_id, "new-disk"))

    assert [r.outcome for r in replies] == ["occurrence"] * 300 + ["opened"]
    stats = ray.get(shard.stats.remote())
    assert stats["opening_first"] - before["opening_first"] == 1
    assert stats["transactions"] - before["transactions"] == 2
    # The transaction that wrote the new incident is older than every occurrence's.
    opened_in = db("fetchval", "SELECT xmin::text::bigint FROM incidents WHERE service_id = $1::uuid"
                               " AND dedup_key = 'new-disk'", service_id)
    occurrences_in = db("fetch", "SELECT DISTINCT xmin::text::bigint AS tx FROM alerts WHERE service_id = $1::uuid"
                                 " AND outcome = 'occurrence'", service_id)
    assert [r["tx"] for r in occurrences_in] and all(opened_in < r["tx"] for r in occurrences_in)
    assert db("fetchval", "SELECT sum(occurrences) FROM incidents WHERE service_id = $1::uuid", service_id) == 311


def test_a_group_holding_more_than_triggers_commits_in_arrival_order_in_one_transaction(shard, service_id, db):
    replies, before = _storm_group(service_id, shard, alert(service_id, "known-3", Action.RESOLVE))

    assert [r.outcome for r in replies] == ["occurrence"] * 300 + ["resolved"]
    stats = ray.get(shard.stats.remote())
    assert stats["opening_first"] == before["opening_first"]
    assert stats["transactions"] - before["transactions"] == 1
    assert db("fetchval", "SELECT status FROM incidents WHERE service_id = $1::uuid AND dedup_key = 'known-3'",
              service_id) == "resolved"


def test_a_shard_actor_keeps_its_start_up_objects_out_of_collections_and_collects_young_ones_less_often(shard):
    # Ray's, asyncpg's and Tocsin's modules, classes and functions: a full collection walked
    # them all, a pause of tens of milliseconds in the middle of a storm's batches.
    collector = ray.get(shard.stats.remote())["garbage_collection"]

    assert collector["frozen_objects"] > 10_000
    assert collector["young_collection_every"] == YOUNG_COLLECTION_EVERY
