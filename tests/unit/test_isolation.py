"""Finding the inputs at fault in a group commit the database refused, with the commit stood
in for by a function that refuses any part holding a poisoned input."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import asyncpg
import orjson
import pytest

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent, ServiceInput
from tocsin.actors.isolation import apply_isolating, refuses_data

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def alert(key: str, summary: str = "Disk full") -> AlertEvent:
    return AlertEvent(str(uuid.uuid4()), "svc", None, key, Action.TRIGGER, NOW, summary=summary,
                      payload=orjson.dumps({"summary": summary}).decode())


class Database:
    """Commits a part unless it holds U+0000 (refused as Postgres does) or `error` is set."""

    def __init__(self, error: Exception | None = None) -> None:
        self.commits: list[tuple[list[str], dict[str, set[int]]]] = []
        self.attempts = 0
        self.error = error

    async def apply(self, inputs: list[ServiceInput], due: dict[str, set[int]]) -> dict[str, Reply]:
        self.attempts += 1
        if self.error is not None:
            raise self.error
        if any("\x00" in (getattr(item, "summary", "") or "") for item in inputs):
            raise asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
        self.commits.append(([item.dedup_key for item in inputs if isinstance(item, AlertEvent)], due))
        return {item.input_id: Reply("opened") for item in inputs}


def on(constraint: str, error: asyncpg.PostgresError) -> asyncpg.PostgresError:
    error.constraint_name = constraint  # as asyncpg fills it in from the server's answer
    return error


def no_report(item: ServiceInput, exc: Exception, reply: Reply) -> None:
    pass


async def test_a_clean_group_commits_once():
    database = Database()
    group = [alert(f"k{n}") for n in range(8)]
    replies = await apply_isolating(database.apply, group, {"svc": {1}}, no_report)
    assert [replies[item.input_id].outcome for item in group] == ["opened"] * 8
    assert database.commits == [([f"k{n}" for n in range(8)], {"svc": {1}})]


async def test_only_the_poisoned_input_is_refused_naming_its_field_and_order_is_kept():
    database, reported = Database(), []
    group = [alert(f"k{n}") for n in range(8)]
    group[5] = alert("k5", "disk\x00full")
    replies = await apply_isolating(database.apply, group, {"svc": {1}},
                                    lambda item, exc, reply: reported.append((item, reply)))

    refused = replies[group[5].input_id]
    assert (refused.outcome, refused.fields, refused.note) == (
        "invalid", ("summary",), "holds U+0000, which cannot be stored")
    assert reported == [(group[5], refused)]
    assert all(replies[item.input_id].outcome == "opened" for n, item in enumerate(group) if n != 5)
    committed = [key for keys, _ in database.commits for key in keys]
    assert committed == ["k0", "k1", "k2", "k3", "k4", "k6", "k7"]  # in arrival order
    assert [due for _, due in database.commits if due] == [{"svc": {1}}]  # the deadlines, once, last
    assert database.commits[-1][1] == {"svc": {1}}


async def test_every_poisoned_input_is_found():
    database = Database()
    group = [alert(f"k{n}", "x\x00" if n in (0, 3, 4, 9) else "ok") for n in range(10)]
    replies = await apply_isolating(database.apply, group, {}, no_report)
    assert [n for n, item in enumerate(group) if replies[item.input_id].outcome == "invalid"] == [0, 3, 4, 9]
    assert sum(len(keys) for keys, _ in database.commits) == 6


async def test_a_lone_poisoned_input_with_deadlines_still_fires_them():
    database = Database()
    poisoned = alert("k", "x\x00")
    replies = await apply_isolating(database.apply, [poisoned], {"svc": {7}}, no_report)
    assert replies[poisoned.input_id].outcome == "invalid"
    assert database.commits == [([], {"svc": {7}})]


@pytest.mark.parametrize("error", [
    OSError("connection refused"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.InterfaceError("pool is closing"),
    asyncpg.SerializationError("could not serialize access"),
    on("alerts_pkey", asyncpg.UniqueViolationError("duplicate key")),  # stored before: the shard's own check
    on("incidents_open_dedup", asyncpg.ExclusionViolationError("conflicting key value")),
])
async def test_anything_but_a_refusal_of_data_fails_the_whole_group(error):
    database = Database(error)
    with pytest.raises(type(error)):
        await apply_isolating(database.apply, [alert("a"), alert("b", "x\x00")], {}, no_report)
    assert database.attempts == 1


def test_which_errors_are_refusals_of_an_inputs_data():
    assert refuses_data(asyncpg.UntranslatableCharacterError("unsupported Unicode escape sequence"))
    assert refuses_data(asyncpg.DataError("invalid input for query argument $1"))  # asyncpg's encoding
    assert refuses_data(asyncpg.ForeignKeyViolationError("service deleted"))
    assert refuses_data(asyncpg.ProgramLimitExceededError("index row size exceeds maximum"))
    # memory behind the rows, not the input's fault
    assert not refuses_data(on("incidents_open_dedup", asyncpg.ExclusionViolationError("conflicting key value")))
    assert not refuses_data(asyncpg.DeadlockDetectedError("deadlock"))
