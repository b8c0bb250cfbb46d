"""A folded batch against Postgres: a ServiceShard given a storm in one call stores what it
stores when given the same alerts one call each — the same incidents, counts, statuses, raw
alert rows and timelines — but for the occurrence entries, which stand for the same number
of alerts in the same places. The storm is large enough for its raw rows to go by COPY."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from tocsin.actors.domain.events import Action, AlertEvent
from tocsin.actors.domain.reports import RuleMatchRow
from tocsin.actors.store import reports
from tocsin.actors.shard import ServiceShard
from tocsin.actors.store.batch import COPY_FROM

START = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
Storm = Sequence[tuple[str, Action, timedelta]]


@pytest.fixture
def twin(db: Callable[..., Any]) -> str:
    """A second service, to hold the same alerts applied one by one."""
    sid = str(uuid.uuid4())
    db("execute", "INSERT INTO services (id, name) VALUES ($1, 'twin')", sid)
    return sid


def storm(size: int, keys: int, seed: int, acknowledges: bool = True) -> Storm:
    """Mostly triggers over a few dedup keys, with acknowledges and resolves among them."""
    rng = random.Random(seed)
    actions = [Action.TRIGGER] * 12 + ([Action.ACKNOWLEDGE, Action.RESOLVE] if acknowledges else [])
    return [(f"key-{rng.randrange(keys)}", rng.choice(actions), timedelta(milliseconds=n * 7)) for n in range(size)]


def alerts(service_id: str, steps: Storm) -> list[AlertEvent]:
    """The steps as alerts; routing rules matched every one, and a second rule every third."""
    return [AlertEvent(event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key=key,
                       action=action, received_at=START + offset, summary=f"{key} is slow", source="prometheus",
                       payload=f'{{"key": "{key}", "n": {n}}}', rules=("r-1", "r-2") if n % 3 == 0 else ("r-1",))
            for n, (key, action, offset) in enumerate(steps)]


async def stored(db: Callable[..., Any], database_url: str, service_id: str) -> dict[str, Any]:
    """What the service's rows say, with incidents named by their order of opening."""
    incidents = db("fetch", "SELECT id, dedup_key, status, occurrences, created_at, updated_at, last_occurrence_at,"
                            " acknowledged_at, resolved_at FROM incidents WHERE service_id = $1::uuid ORDER BY id",
                   service_id)
    ordinal = {row["id"]: n for n, row in enumerate(incidents)}
    raw = db("fetch", "SELECT incident_id, action, dedup_key, outcome, received_at, payload::text AS payload"
                      " FROM alerts WHERE service_id = $1::uuid ORDER BY received_at", service_id)
    log = db("fetch", "SELECT incident_id, at, kind, actor, message, alerts FROM incident_log"
                      " WHERE incident_id = ANY($1::bigint[]) ORDER BY id", list(ordinal))
    timelines: dict[int, list[Any]] = {n: [] for n in ordinal.values()}
    for entry in log:
        timeline = timelines[ordinal[entry["incident_id"]]]
        if entry["kind"] not in ("occurrence", "occurrences"):
            timeline.append((entry["at"], entry["kind"], entry["actor"], entry["message"]))
        elif timeline and isinstance(timeline[-1], Counter):
            timeline[-1][entry["actor"]] += entry["alerts"] or 1
        else:
            timeline.append(Counter({entry["actor"]: entry["alerts"] or 1}))
    matches = await _rule_matches(database_url, service_id)
    return {
        "incidents": [{**row, "id": ordinal[row["id"]]} for row in incidents],
        "rule_matches": sorted((ordinal[m.incident_id], m.rule_id, m.alerts) for m in matches),
        "alerts": [{**row, "incident_id": ordinal.get(row["incident_id"])} for row in raw],
        "timelines": timelines,
        "summaries": sum(1 for entry in log if entry["kind"] == "occurrences"),
    }


async def _rule_matches(database_url: str, service_id: str) -> list[RuleMatchRow]:
    """What the reports count of the alerts each rule matched, by incident."""
    conn = await asyncpg.connect(database_url)
    try:
        return await reports.rule_matches(conn, START - timedelta(days=1), START + timedelta(days=1), [service_id])
    finally:
        await conn.close()


async def applied_both_ways(
    database_url: str, steps: Storm, service_id: str, twin: str, opening: Storm = (),
) -> tuple[list[str], list[str], dict[str, Any]]:
    """`opening` in one call to each service, then the storm in one call to one service and
    one call per alert to its twin: the storm's outcomes, and the shard's figures after the
    one call."""
    shard = ServiceShard(0, database_url)
    try:
        for service in (service_id, twin) if opening else ():
            await shard.apply(alerts(service, opening))
        folded = await shard.apply(alerts(service_id, steps))
        stats = await shard.stats()
        one_by_one = [reply for event in alerts(twin, steps) for reply in await shard.apply([event])]
    finally:
        await shard.close()
    return [r.outcome for r in folded], [r.outcome for r in one_by_one], stats


async def test_a_storm_in_one_batch_is_stored_as_alert_by_alert_application(
    service_id: str, twin: str, database_url: str, db: Callable[..., Any],
) -> None:
    steps = storm(COPY_FROM + 100, keys=12, seed=19)

    folded, one_by_one, stats = await applied_both_ways(database_url, steps, service_id, twin)

    assert folded == one_by_one and stats["transactions"] == 1
    together, apart = await stored(db, database_url, service_id), await stored(db, database_url, twin)
    assert together["incidents"] == apart["incidents"]
    assert together["alerts"] == apart["alerts"] and len(together["alerts"]) == len(steps)
    assert together["timelines"] == apart["timelines"]
    assert together["summaries"] > 0 and apart["summaries"] == 0
    assert together["rule_matches"] == apart["rule_matches"]
    # every alert that changed an incident is counted for its rule, summarised or not
    assert sum(alerts for _, rule, alerts in together["rule_matches"] if rule == "r-1") == sum(
        1 for row in together["alerts"] if row["outcome"] in ("opened", "occurrence", "acknowledged", "resolved"))


async def test_a_storm_of_triggers_commits_its_openings_first_and_stores_the_same(
    service_id: str, twin: str, database_url: str, db: Callable[..., Any],
) -> None:
    opening = [(f"key-{n}", Action.TRIGGER, timedelta(0)) for n in range(10)]  # then a storm that opens ten more
    steps = storm(COPY_FROM + 100, keys=20, seed=7, acknowledges=False)

    folded, one_by_one, stats = await applied_both_ways(database_url, steps, service_id, twin, opening)

    assert folded == one_by_one and stats["opening_first"] == 1 and stats["transactions"] == 4
    together, apart = await stored(db, database_url, service_id), await stored(db, database_url, twin)
    assert together["incidents"] == apart["incidents"] and len(together["incidents"]) == 20
    assert sum(i["occurrences"] for i in together["incidents"]) == len(steps) + len(opening)
    assert together["alerts"] == apart["alerts"]
    assert together["timelines"] == apart["timelines"]
