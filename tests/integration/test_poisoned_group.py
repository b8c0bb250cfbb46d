"""One bad input harms no other: a ServiceShard on real Postgres, given a group that mixes
alerts of two services with inputs Postgres refuses (built directly, past the edge that
would have made them storable), commits every innocent input and answers it as usual, and
refuses only the poisoned ones, naming the field. A database outage still fails everyone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson
import pytest
import ray

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand
from tocsin.actors.shard import ServiceShard, ShardCommitError
from tocsin.actors.store.batch import COPY_FROM, LOG_COPY_FROM
from tests.integration.faulty_pool import FaultyPool, faulty_pools
from tests.integration.test_group_commit import alert, shard  # noqa: F401 - `shard` is a fixture

NUL = "holds U+0000, which cannot be stored"
SURROGATE = "holds a surrogate code point, which cannot be stored"


def poisoned(service_id: str, key: str, action: Action = Action.TRIGGER, **fields: Any) -> AlertEvent:
    """An alert as a source would send it, with `fields` (summary, source, payload) as given."""
    payload = orjson.dumps(fields.pop("details", {"summary": fields.get("summary", "ok")})).decode()
    return AlertEvent(event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key=key,
                      action=action, received_at=datetime.now(timezone.utc), payload=payload,
                      **{"summary": "ok", **fields})


@pytest.fixture
def other_service(db: Callable[..., Any]) -> str:
    sid = str(uuid.uuid4())
    db("execute", "INSERT INTO services (id, name) VALUES ($1, 'neighbour')", sid)
    return sid


def stored(db: Callable[..., Any], service_id: str) -> dict[str, int]:
    """The service's incidents, by dedup key: their occurrences."""
    rows = db("fetch", "SELECT dedup_key, occurrences FROM incidents WHERE service_id = $1::uuid", service_id)
    return {r["dedup_key"]: r["occurrences"] for r in rows}


async def test_a_group_with_poisoned_inputs_commits_every_other_one(
    service_id: str, other_service: str, database_url: str, db: Callable[..., Any],
) -> None:
    service_shard = ServiceShard(0, database_url)
    try:
        [opened] = await service_shard.apply([alert(service_id, "cpu")])  # open before: occurrences follow
        nul_in_summary = poisoned(service_id, "disk", summary="disk\x00full")
        # json takes the escape, jsonb does not: refused only where it becomes an incident's details
        nul_in_details = poisoned(other_service, "mem", details={"labels": {"instance": "db\x001"}})
        surrogate_in_source = poisoned(other_service, "net", source="sw\udce9itch")  # asyncpg cannot encode it
        calls = [
            [alert(service_id, "cpu"), nul_in_summary, alert(service_id, "disk", Action.ACKNOWLEDGE)],
            [alert(other_service, "api"), nul_in_details, alert(other_service, "api")],
            [alert(service_id, "cpu"), surrogate_in_source, alert(other_service, "db")],
        ]
        answers = await asyncio.gather(*(service_shard.apply(call) for call in calls))  # one group
        stats = await service_shard.stats()
    finally:
        await service_shard.close()

    outcomes = [[reply.outcome for reply in replies] for replies in answers]
    # The acknowledgement of "disk" comes after its refused trigger: as if that was never sent.
    assert outcomes == [["occurrence", "invalid", "dropped"], ["opened", "invalid", "occurrence"],
                        ["occurrence", "invalid", "opened"]]
    refused = [(reply.fields, reply.note) for replies in answers for reply in replies if reply.outcome == "invalid"]
    assert refused == [(("summary",), NUL), (("labels.instance",), NUL), (("source",), SURROGATE)]
    assert all(r.incident_id is not None for rs in answers for r in rs if r.outcome in ("opened", "occurrence"))
    assert opened.outcome == "opened" and stats["refused_inputs"] == 3 and stats["failed_transactions"] == 0

    assert stored(db, service_id) == {"cpu": 3}
    assert stored(db, other_service) == {"api": 2, "db": 1}
    raw = db("fetch", "SELECT dedup_key FROM alerts WHERE service_id = ANY($1::uuid[])", [service_id, other_service])
    assert sorted(r["dedup_key"] for r in raw) == ["api", "api", "cpu", "cpu", "cpu", "db", "disk"]  # disk: the ack


async def test_a_poisoned_command_is_refused_and_the_alerts_beside_it_commit(
    service_id: str, database_url: str, db: Callable[..., Any],
) -> None:
    service_shard = ServiceShard(0, database_url)
    try:
        [opened] = await service_shard.apply([alert(service_id, "cpu")])
        note = IncidentCommand(str(uuid.uuid4()), service_id, opened.incident_id, Command.NOTE, "api:alice",
                               datetime.now(timezone.utc), text="see\x00log")
        replies = await service_shard.apply([alert(service_id, "cpu"), note, alert(service_id, "cpu")])
    finally:
        await service_shard.close()
    assert [(r.outcome, r.fields) for r in replies] == [("occurrence", ()), ("invalid", ("text",)),
                                                         ("occurrence", ())]
    assert stored(db, service_id) == {"cpu": 3}


async def test_a_storm_sized_group_refuses_only_the_raw_alert_it_cannot_store(
    service_id: str, database_url: str, db: Callable[..., Any],
) -> None:
    """Raw alerts go by COPY in a group this large; one asyncpg cannot encode is still its own refusal."""
    service_shard = ServiceShard(0, database_url)
    try:
        storm = [alert(service_id, f"key-{n % 10}") for n in range(COPY_FROM + 50)]
        bad = storm[300]  # an occurrence whose raw payload holds a surrogate, and nothing else does
        storm[300] = AlertEvent(str(uuid.uuid4()), service_id, None, bad.dedup_key, Action.TRIGGER,
                                bad.received_at, summary=bad.summary, payload='{"host": "sw\udce9itch"}')
        replies = await service_shard.apply(storm)
    finally:
        await service_shard.close()
    assert [n for n, r in enumerate(replies) if r.outcome == "invalid"] == [300]
    assert replies[300].note == SURROGATE
    assert sum(stored(db, service_id).values()) == len(storm) - 1
    assert db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service_id) == len(storm) - 1


async def test_a_group_opening_many_incidents_refuses_only_the_timeline_entry_it_cannot_store(
    service_id: str, database_url: str, db: Callable[..., Any],
) -> None:
    """Timeline entries go by COPY in a group touching this many incidents, its raw alerts by
    the statement; an entry asyncpg cannot encode (a summary holding a surrogate, which the
    entry of the incident it opens repeats) is still its alert's own refusal, and the others
    keep their entries, in order."""
    service_shard = ServiceShard(0, database_url)
    try:
        group = [alert(service_id, f"key-{n}") for n in range(LOG_COPY_FROM + 20)]
        group[30] = poisoned(service_id, "key-30", summary="sw\udce9itch is down", details={"host": "switch"})
        assert len(group) < COPY_FROM
        replies = await service_shard.apply(group)
    finally:
        await service_shard.close()
    assert [n for n, r in enumerate(replies) if r.outcome != "opened"] == [30]
    assert (replies[30].outcome, replies[30].fields, replies[30].note) == ("invalid", ("summary",), SURROGATE)
    entries = db("fetch", "SELECT i.dedup_key FROM incident_log l JOIN incidents i ON i.id = l.incident_id"
                          " WHERE i.service_id = $1::uuid AND l.kind = 'triggered' ORDER BY l.id", service_id)
    assert [e["dedup_key"] for e in entries] == [f"key-{n}" for n in range(len(group)) if n != 30]


def test_the_refusal_crosses_ray_to_the_caller(
    shard: Any, service_id: str, db: Callable[..., Any],  # noqa: F811 - the fixture
) -> None:
    replies: list[Reply] = ray.get(shard.apply.remote(
        [alert(service_id, "cpu"), poisoned(service_id, "disk", summary="a\x00b"), alert(service_id, "cpu")]),
        timeout=60)
    assert [(r.outcome, r.fields) for r in replies] == [("opened", ()), ("invalid", ("summary",)),
                                                         ("occurrence", ())]
    assert stored(db, service_id) == {"cpu": 2}


class GoesAway(FaultyPool):
    """Postgres going away: once `away`, every connection is refused; with `after_refusal`,
    it goes away right after it refused some data."""

    away = False
    after_refusal = False

    def entering(self) -> None:
        if self.away:
            raise ConnectionRefusedError("connection refused")

    def leaving(self, error: BaseException | None) -> None:
        if self.after_refusal and isinstance(error, asyncpg.DataError):
            self.away = True


@pytest.mark.parametrize("when", ["before the group", "while isolating the poisoned input"])
async def test_an_outage_still_fails_everyone(
    when: str, service_id: str, other_service: str, database_url: str, db: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools = faulty_pools(monkeypatch, GoesAway)
    service_shard = ServiceShard(0, database_url)
    try:
        [warm] = await service_shard.apply([alert(service_id, "cpu")])
        pools[0].away, pools[0].after_refusal = when == "before the group", True
        calls = [[alert(service_id, "cpu"), poisoned(service_id, "disk", summary="x\x00")],
                 [alert(other_service, "api")]]
        answers = await asyncio.gather(*(service_shard.apply(call) for call in calls), return_exceptions=True)
        failed = (await service_shard.stats())["failed_transactions"]

        pools[0].away, pools[0].after_refusal = False, False  # back: the sources' retries commit
        retried = await asyncio.gather(*(service_shard.apply([a for a in call if "\x00" not in (a.summary or "")])
                                         for call in calls))
    finally:
        await service_shard.close()

    assert warm.outcome == "opened"
    assert [type(answer) for answer in answers] == [ShardCommitError, ShardCommitError]
    assert failed == 1
    assert [[r.outcome for r in replies] for replies in retried] == [["occurrence"], ["opened"]]
    assert stored(db, service_id) == {"cpu": 2} and stored(db, other_service) == {"api": 1}
