"""The one way to Postgres: a pool made on first use, what becomes of a connection whose
work failed, which errors mean a refused value and which an unavailable database, and a
connection lent to one task for a transaction its lender commits."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tocsin.actors.store.database import DATA_ERRORS, UNAVAILABLE, Database

# Nothing listens on port 1: connecting fails at once, as when the database is down.
NO_DATABASE = "postgresql://127.0.0.1:1/none"


class WorkFailed(Exception):
    """What a connection's work raised, as opposed to what the database did."""


async def test_nothing_connects_until_a_connection_is_asked_for_and_each_ask_tries_again() -> None:
    database = Database(NO_DATABASE, max_size=2)  # no error: nothing is tried yet

    for _ in range(2):  # a failed attempt is not remembered: the next one connects again
        with pytest.raises(UNAVAILABLE) as failed:
            async with database.connection():
                pytest.fail("a connection to a port nothing listens on was handed out")
        assert not isinstance(failed.value, DATA_ERRORS)
    await database.close()


@pytest.mark.parametrize("close_failed", [False, True])
async def test_a_connection_whose_work_failed_is_closed_only_when_asked_to(database_url: str,
                                                                           close_failed: bool) -> None:
    """The pool holds one connection: the next block is given that one again, or a new one
    (another server process) once it was closed."""
    database = Database(database_url, max_size=1, close_failed=close_failed)
    try:
        with pytest.raises(WorkFailed):
            async with database.connection() as conn:
                failed = conn.get_server_pid()
                raise WorkFailed
        async with database.connection() as conn:
            after = conn.get_server_pid()
    finally:
        await database.close()

    assert (after != failed) is close_failed


async def test_work_that_succeeded_hands_its_connection_back_either_way(database_url: str) -> None:
    for close_failed in (False, True):
        database = Database(database_url, max_size=1, close_failed=close_failed)
        try:
            async with database.connection() as conn:
                first = conn.get_server_pid()
            async with database.connection() as conn:
                assert conn.get_server_pid() == first
        finally:
            await database.close()


@pytest.mark.parametrize("statement, value", [
    ("SELECT $1::text", "a\x00b"),  # Postgres refuses NUL in text
    ("SELECT $1::bigint", 2**70),  # asyncpg refuses to send an int past int64
])
async def test_a_value_the_database_refuses_is_a_data_error(database_url: str, statement: str,
                                                            value: object) -> None:
    database = Database(database_url, max_size=1)
    try:
        with pytest.raises(DATA_ERRORS) as refused:
            async with database.connection() as conn:
                await conn.fetchval(statement, value)
        async with database.connection() as conn:  # the database is fine
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await database.close()

    assert isinstance(refused.value, UNAVAILABLE)  # wider: whoever tells them apart checks DATA_ERRORS first


async def test_a_statement_past_the_command_timeout_counts_as_unavailable(database_url: str) -> None:
    database = Database(database_url, max_size=1, command_timeout=0.2)
    try:
        with pytest.raises(UNAVAILABLE) as slow:
            async with database.connection() as conn:
                await conn.execute("SELECT pg_sleep(5)")
    finally:
        await database.close()

    assert not isinstance(slow.value, DATA_ERRORS)
    assert not isinstance(slow.value, asyncpg.PostgresError)  # the client gave up, not the server


async def test_a_lent_connection_serves_the_lending_task_alone_and_only_while_lent(database_url: str) -> None:
    database = Database(database_url, max_size=3)

    async def server_pid() -> int:
        async with database.connection() as conn:
            pid: int = conn.get_server_pid()
            return pid

    try:
        async with database.connection() as lent_conn:
            lent = lent_conn.get_server_pid()
            with database.lending(lent_conn):
                own = await server_pid()
                in_another_task = await asyncio.create_task(server_pid())
                async with database.connection(apart=True) as conn:
                    apart = conn.get_server_pid()
            after = await server_pid()
    finally:
        await database.close()

    assert own == lent
    assert lent not in (in_another_task, apart, after)


async def test_work_in_a_lent_connection_is_the_lenders_to_commit_and_so_is_what_waits_for_it(
    database_url: str,
) -> None:
    database, table = Database(database_url, max_size=2), f"lent_{uuid.uuid4().hex[:8]}"
    told: list[str] = []
    try:
        async with database.connection() as conn:
            await conn.execute(f"CREATE TABLE {table} (n int)")
        database.after_commit(lambda: told.append("not lent: at once"))
        async with database.connection() as lent_conn:
            transaction = lent_conn.transaction()
            await transaction.start()
            with database.lending(lent_conn) as lent:
                async with database.connection() as conn, conn.transaction():  # a savepoint
                    await conn.execute(f"INSERT INTO {table} VALUES (1)")
                database.after_commit(lambda: told.append("lent: after the commit"))
                database.keep_on_refusal()
            await transaction.rollback()
        async with database.connection() as conn:
            kept = await conn.fetchval(f"SELECT count(*) FROM {table}")
            await conn.execute(f"DROP TABLE {table}")
    finally:
        await database.close()

    assert kept == 0  # the block's own transaction was the lender's savepoint
    assert told == ["not lent: at once"]
    assert lent.after_commit and lent.keep_on_refusal
