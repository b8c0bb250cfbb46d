"""In a storm, a call that arrives while a group's occurrences commit has the alerts that open
incidents committed beside them, on the shard's other connection, and its occurrences with
the next group: a ServiceShard in this process on Postgres, the group's occurrences held
until the call's openings are durable, so that the two transactions are under way together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from tocsin.actors.domain.events import Action, AlertEvent
from tocsin.actors.shard import OCCURRENCES_TO_SPLIT, ServiceShard, ShardCommitError

WAIT_S = 10.0  # for the call's openings to commit: far more than they take


def alert(service_id: str, key: str, action: Action = Action.TRIGGER) -> AlertEvent:
    return AlertEvent(event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key=key,
                      action=action, received_at=datetime.now(timezone.utc), summary=f"{key} is down",
                      payload='{"k": 1}')


def occurrences(service_id: str, count: int) -> list[AlertEvent]:
    return [alert(service_id, f"known-{n % 10}") for n in range(count)]


def storm_group(service_id: str) -> list[AlertEvent]:
    return [alert(service_id, "new-first"), *occurrences(service_id, OCCURRENCES_TO_SPLIT)]


class Arriving:
    """Hands `call` to the shard as the group's occurrences start to commit, as a gateway's
    call of openings arrives while the shard is busy, and holds those occurrences until the
    call's openings have committed (or failed), which is done in `task`; `hold=False`: until
    the call is pending. `fail_occurrences`, `fail_openings`: that transaction fails (once) as
    if the database had gone away."""

    def __init__(self, shard: ServiceShard, call: list[AlertEvent], *, hold: bool = True,
                 fail_occurrences: bool = False, fail_openings: bool = False) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.failed = False
        apply = shard._apply_checked
        started = shard._stats["openings_beside"], shard._stats["failed_transactions"]

        async def openings_done() -> None:
            async with asyncio.timeout(WAIT_S):
                while (shard._stats["openings_beside"], shard._stats["failed_transactions"]) == started:
                    await asyncio.sleep(0.01)

        async def holding(inputs: list[AlertEvent], due: dict[str, set[int]]) -> Any:
            keys = {item.dedup_key for item in inputs}
            if len(inputs) >= OCCURRENCES_TO_SPLIT and self.task is None:
                self.task = asyncio.create_task(shard.apply(call))
                await (openings_done() if hold else asyncio.sleep(0))
                if fail_occurrences:
                    raise ConnectionError("the database went away")
            if fail_openings and keys == {"new-later"} and not self.failed:
                self.failed = True
                raise ConnectionError("the database went away")
            return await apply(inputs, due)

        shard._apply_checked = holding  # type: ignore[method-assign]


@pytest.fixture
async def shard(service_id: str, database_url: str) -> AsyncIterator[ServiceShard]:
    """A shard in this process with ten incidents of `service_id` open (known-0 … known-9)."""
    shard = ServiceShard(0, database_url)
    try:
        await shard.apply([alert(service_id, f"known-{k}") for k in range(10)])
        yield shard
    finally:
        await shard.close()


def transactions(db: Callable[..., Any], service_id: str) -> tuple[dict[str, int], list[int]]:
    """The transaction that opened each new-… incident, and those that stored occurrences of known-…"""
    opened = {r["dedup_key"]: r["tx"] for r in db(
        "fetch", "SELECT dedup_key, xmin::text::bigint AS tx FROM incidents WHERE service_id = $1::uuid"
                 " AND dedup_key LIKE 'new-%'", service_id)}
    occurred = sorted(r["tx"] for r in db(
        "fetch", "SELECT DISTINCT xmin::text::bigint AS tx FROM alerts WHERE service_id = $1::uuid"
                 " AND outcome = 'occurrence' AND dedup_key LIKE 'known-%'", service_id))
    return opened, occurred


async def test_the_openings_of_a_call_arriving_meanwhile_commit_beside_the_groups_occurrences(
    shard: ServiceShard, service_id: str, db: Callable[..., Any],
) -> None:
    before = await shard.stats()
    arriving = Arriving(shard, [alert(service_id, "new-later"), *occurrences(service_id, 50),
                                alert(service_id, "new-later")])
    group = await shard.apply(storm_group(service_id))
    assert arriving.task is not None
    later = await arriving.task
    stats = await shard.stats()

    assert [r.outcome for r in group] == ["opened"] + ["occurrence"] * OCCURRENCES_TO_SPLIT
    assert [r.outcome for r in later] == ["opened"] + ["occurrence"] * 51
    assert stats["openings_beside"] - before["openings_beside"] == 1
    # the group's openings, the call's beside the group's occurrences, those, the call's occurrences
    assert stats["transactions"] - before["transactions"] == 4
    opened, occurred = transactions(db, service_id)
    assert len(occurred) == 2  # the group's occurrences, then the call's with the next group
    assert opened["new-first"] < opened["new-later"] < occurred[0]
    counts = {r["dedup_key"]: r["occurrences"] for r in db(
        "fetch", "SELECT dedup_key, occurrences FROM incidents WHERE service_id = $1::uuid", service_id)}
    assert counts["new-later"] == 2 and counts["new-first"] == 1
    assert sum(counts.values()) == 10 + 1 + OCCURRENCES_TO_SPLIT + 52
    assert db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service_id) \
        == 10 + 1 + OCCURRENCES_TO_SPLIT + 52


async def test_a_call_of_openings_alone_is_answered_before_the_groups_occurrences_are(
    shard: ServiceShard, service_id: str,
) -> None:
    arriving = Arriving(shard, [alert(service_id, "new-later")])
    group = asyncio.create_task(shard.apply(storm_group(service_id)))
    async with asyncio.timeout(WAIT_S):
        while arriving.task is None or not arriving.task.done():
            await asyncio.sleep(0.01)
    assert not group.done()  # its occurrences are held until the call's openings are durable
    assert [r.outcome for r in await arriving.task] == ["opened"]
    assert [r.outcome for r in await group] == ["opened"] + ["occurrence"] * OCCURRENCES_TO_SPLIT


async def test_a_call_arriving_with_more_than_triggers_waits_for_the_next_group(
    shard: ServiceShard, service_id: str,
) -> None:
    before = await shard.stats()
    arriving = Arriving(shard, [alert(service_id, "new-later"), alert(service_id, "known-3", Action.RESOLVE)],
                        hold=False)
    await shard.apply(storm_group(service_id))
    assert arriving.task is not None
    later = await arriving.task
    stats = await shard.stats()

    assert [r.outcome for r in later] == ["opened", "resolved"]
    assert stats["openings_beside"] == before["openings_beside"]
    assert stats["transactions"] - before["transactions"] == 3  # openings, occurrences, the next group


async def test_when_the_groups_occurrences_fail_a_call_whose_openings_committed_beside_them_is_answered(
    shard: ServiceShard, service_id: str, db: Callable[..., Any],
) -> None:
    arriving = Arriving(shard, [alert(service_id, "new-later"), *occurrences(service_id, 5)], fail_occurrences=True)
    with pytest.raises(ShardCommitError):
        await shard.apply(storm_group(service_id))
    assert arriving.task is not None
    assert [r.outcome for r in await arriving.task] == ["opened"] + ["occurrence"] * 5
    assert db("fetchval", "SELECT count(*) FROM incidents WHERE service_id = $1::uuid AND dedup_key = 'new-later'",
              service_id) == 1


async def test_when_the_openings_beside_fail_the_group_commits_and_a_retry_opens_one_incident(
    shard: ServiceShard, service_id: str, db: Callable[..., Any],
) -> None:
    arriving = Arriving(shard, [alert(service_id, "new-later")], fail_openings=True)
    group = await shard.apply(storm_group(service_id))
    assert arriving.task is not None
    with pytest.raises(ShardCommitError):
        await arriving.task
    assert [r.outcome for r in group] == ["opened"] + ["occurrence"] * OCCURRENCES_TO_SPLIT

    retried = await shard.apply([alert(service_id, "new-later"), alert(service_id, "new-later")])
    assert [r.outcome for r in retried] == ["opened", "occurrence"]
    again = await shard.apply([alert(service_id, "new-first")])
    assert [(r.outcome, r.incident_id) for r in again] == [("occurrence", group[0].incident_id)]
    assert db("fetchval", "SELECT count(*) FROM incidents WHERE service_id = $1::uuid AND status <> 'resolved'",
              service_id) == 10 + 2
