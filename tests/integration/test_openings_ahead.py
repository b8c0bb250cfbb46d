"""In a storm, a call that arrives while a group commits has the alerts that open incidents
committed ahead of the group's occurrences, and its occurrences after them: a ServiceShard
in this process on Postgres, the second call handed in the moment the group's opening
transaction has committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from tocsin.actors.domain.events import Action, AlertEvent
from tocsin.actors.shard import OCCURRENCES_TO_SPLIT, ServiceShard, ShardCommitError


def alert(service_id: str, key: str, action: Action = Action.TRIGGER) -> AlertEvent:
    return AlertEvent(event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key=key,
                      action=action, received_at=datetime.now(timezone.utc), summary=f"{key} is down",
                      payload='{"k": 1}')


def occurrences(service_id: str, count: int) -> list[AlertEvent]:
    return [alert(service_id, f"known-{n % 10}") for n in range(count)]


class Arriving:
    """Hands `call` to the shard once its first transaction has committed, as a gateway's
    next call arrives while the shard is busy; `call` is answered in `task`."""

    def __init__(self, shard: ServiceShard, call: list[AlertEvent]) -> None:
        self.task: asyncio.Task[Any] | None = None
        applied = shard._applied

        async def first_then_call(inputs: list[Any], due: dict[str, set[int]]) -> Any:
            replies = await applied(inputs, due)
            if self.task is None:
                self.task = asyncio.create_task(shard.apply(call))
                await asyncio.sleep(0)  # its call is pending before the group goes on
            return replies

        shard._applied = first_then_call  # type: ignore[method-assign]


@pytest.fixture
async def shard(service_id: str, database_url: str) -> AsyncIterator[ServiceShard]:
    """A shard in this process with ten incidents of `service_id` open (known-0 … known-9)."""
    shard = ServiceShard(0, database_url)
    try:
        await shard.apply([alert(service_id, f"known-{k}") for k in range(10)])
        yield shard
    finally:
        await shard.close()


async def test_the_openings_of_a_call_arriving_meanwhile_commit_before_the_groups_occurrences(
    shard: ServiceShard, service_id: str, db: Callable[..., Any],
) -> None:
    before = await shard.stats()
    arriving = Arriving(shard, [alert(service_id, "new-later"), *occurrences(service_id, 50),
                                alert(service_id, "new-later")])
    group = await shard.apply([alert(service_id, "new-first"), *occurrences(service_id, OCCURRENCES_TO_SPLIT)])
    assert arriving.task is not None
    later = await arriving.task
    stats = await shard.stats()

    assert [r.outcome for r in group] == ["opened"] + ["occurrence"] * OCCURRENCES_TO_SPLIT
    assert [r.outcome for r in later] == ["opened"] + ["occurrence"] * 51
    assert stats["openings_ahead"] - before["openings_ahead"] == 1
    assert stats["transactions"] - before["transactions"] == 3  # openings, openings ahead, occurrences
    tx = {r["dedup_key"]: r["tx"] for r in db(
        "fetch", "SELECT dedup_key, xmin::text::bigint AS tx FROM incidents WHERE service_id = $1::uuid"
                 " AND dedup_key LIKE 'new-%'", service_id)}
    occurrence_tx = {r["tx"] for r in db(
        "fetch", "SELECT DISTINCT xmin::text::bigint AS tx FROM alerts WHERE service_id = $1::uuid"
                 " AND outcome = 'occurrence' AND dedup_key LIKE 'known-%'", service_id)}
    assert tx["new-first"] < tx["new-later"] < min(occurrence_tx)
    assert len(occurrence_tx) == 1  # the later call's occurrences of open incidents went with the group's
    counts = {r["dedup_key"]: r["occurrences"] for r in db(
        "fetch", "SELECT dedup_key, occurrences FROM incidents WHERE service_id = $1::uuid", service_id)}
    assert counts["new-later"] == 2 and counts["new-first"] == 1
    assert sum(counts.values()) == 10 + 1 + OCCURRENCES_TO_SPLIT + 52
    assert db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service_id) \
        == 10 + 1 + OCCURRENCES_TO_SPLIT + 52


async def test_a_call_arriving_with_more_than_triggers_waits_for_the_next_group(
    shard: ServiceShard, service_id: str,
) -> None:
    before = await shard.stats()
    arriving = Arriving(shard, [alert(service_id, "new-later"), alert(service_id, "known-3", Action.RESOLVE)])
    await shard.apply([alert(service_id, "new-first"), *occurrences(service_id, OCCURRENCES_TO_SPLIT)])
    assert arriving.task is not None
    later = await arriving.task
    stats = await shard.stats()

    assert [r.outcome for r in later] == ["opened", "resolved"]
    assert stats["openings_ahead"] == before["openings_ahead"]
    assert stats["transactions"] - before["transactions"] == 3  # openings, occurrences, the next group


async def test_when_the_groups_occurrences_fail_the_call_that_joined_it_is_not_answered_durable(
    shard: ServiceShard, service_id: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    arriving = Arriving(shard, [alert(service_id, "new-later"), *occurrences(service_id, 5)])
    applied = shard._apply_checked

    async def occurrences_fail(inputs: list[Any], due: dict[str, set[int]]) -> Any:
        if len(inputs) > OCCURRENCES_TO_SPLIT:
            raise ConnectionError("the database went away")
        return await applied(inputs, due)

    monkeypatch.setattr(shard, "_apply_checked", occurrences_fail)
    with pytest.raises(ShardCommitError):
        await shard.apply([alert(service_id, "new-first"), *occurrences(service_id, OCCURRENCES_TO_SPLIT)])
    assert arriving.task is not None
    with pytest.raises(ShardCommitError):
        await arriving.task
