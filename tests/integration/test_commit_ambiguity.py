"""A batch that Postgres committed while the shard saw an error: the connection failed as it
was handed back to the pool, after the commit (Postgres going away at that moment). The
shard answers "not durable", which a source retries; its memory must follow the rows
anyway, or its next commit would write counts from before the batch, or open a second
incident for a dedup key whose incident it never learnt of."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from tocsin.actors.shard import ServiceShard, ShardCommitError
from tests.integration.faulty_pool import FaultyPool, faulty_pools
from tests.integration.test_group_commit import alert


class ReturnFails(FaultyPool):
    """A pool whose next connection, once armed, fails as it is handed back."""

    armed = False

    def leaving(self, error: BaseException | None) -> None:
        if self.armed and error is None:
            self.armed = False
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")


async def test_a_commit_whose_connection_fails_afterwards_is_reloaded_not_forgotten(
    service_id: str, database_url: str, db: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools = faulty_pools(monkeypatch, ReturnFails)
    shard = ServiceShard(0, database_url)
    try:
        [opened] = await shard.apply([alert(service_id, "disk")])
        assert opened.outcome == "opened"
        pools[0].armed = True
        with pytest.raises(ShardCommitError):
            await shard.apply([alert(service_id, "disk")])  # committed; the answer was lost
        [again] = await shard.apply([alert(service_id, "disk")])
        assert again.outcome == "occurrence"
    finally:
        await shard.close()

    rows = db("fetch", "SELECT occurrences FROM incidents WHERE service_id = $1::uuid", service_id)
    stored = db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service_id)
    assert [r["occurrences"] for r in rows] == [stored] == [3]
