"""Migrations: applied once under an advisory lock, however many processes start at once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from actors.store.migrate import available, migrate
from tests.conftest import _with_database


async def test_concurrent_migrations_apply_each_file_once(postgres_admin_url):
    name = f"tocsin_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(postgres_admin_url, name)
    try:
        results = await asyncio.gather(*(migrate(url) for _ in range(3)))
        assert sorted(v for applied in results for v in applied) == [v for v, _, _ in available()]
        assert await migrate(url) == []
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
