"""When a channel's next row falls due: the earliest pending row of either rank, or the
earliest lease to run out among rows it does not hold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import asyncpg

from tocsin.actors.store import outbox
from tests.conftest import statement_runner
from tests.integration.outbox_rows import Desk

SOON = datetime.now(timezone.utc) + timedelta(hours=1)


async def next_due(database_url: str, channel: str, held: list[int] | None = None) -> datetime | None:
    conn = await asyncpg.connect(database_url)
    try:
        return await outbox.next_due(conn, channel, held or [])
    finally:
        await conn.close()


async def test_the_earliest_of_pending_rows_of_either_rank_and_of_leases_not_held(own_database: str) -> None:
    database_url = own_database  # a database of its own: what is due is the whole channel's
    desk = Desk(statement_runner(database_url), "voice", "+15550199")
    assert await next_due(database_url, "voice") is None

    desk.page(send_at=SOON + timedelta(minutes=30), rank=0)
    desk.page(send_at=SOON + timedelta(minutes=20), rank=1)
    assert await next_due(database_url, "voice") == SOON + timedelta(minutes=20)

    desk.page(send_at=SOON + timedelta(minutes=10), rank=0)
    assert await next_due(database_url, "voice") == SOON + timedelta(minutes=10)

    leased = desk.page(status="sending", claimed_until=SOON + timedelta(minutes=5))
    assert await next_due(database_url, "voice") == SOON + timedelta(minutes=5)
    assert await next_due(database_url, "voice", held=[leased]) == SOON + timedelta(minutes=10)
    desk.page(status="sent", send_at=SOON)  # settled rows are not due
    assert await next_due(database_url, "voice", held=[leased]) == SOON + timedelta(minutes=10)
