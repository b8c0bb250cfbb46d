"""Migrations: applied once under an advisory lock, however many processes start at once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from tocsin.actors.store.migrate import available, migrate
from tests.conftest import _with_database, fresh_database


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


async def test_deleting_a_service_deletes_its_incidents_and_their_timelines(postgres_admin_url):
    with fresh_database(postgres_admin_url) as url:  # its own: the incident ids are fixed here
        conn = await asyncpg.connect(url)
        try:
            await _two_services_one_deleted(conn)
        finally:
            await conn.close()


async def _two_services_one_deleted(conn: asyncpg.Connection) -> None:
    """Two incidents with two timeline entries each in a deleted service, one in a kept one."""
    kept, deleted = str(uuid.uuid4()), str(uuid.uuid4())
    for service_id, incident_id in ((kept, 1), (deleted, 2), (deleted, 3)):
        await conn.execute("INSERT INTO services (id, name) VALUES ($1::uuid, 'svc') ON CONFLICT DO NOTHING",
                           service_id)
        await conn.execute(
            "INSERT INTO incidents (id, service_id, dedup_key, status, summary, severity, occurrences,"
            " created_at, updated_at, last_occurrence_at)"
            " VALUES ($1, $2::uuid, $3, 'triggered', 'disk full', 'critical', 1, now(), now(), now())",
            incident_id, service_id, f"key-{incident_id}")
        await conn.executemany(
            "INSERT INTO incident_log (incident_id, at, kind, actor, message) VALUES ($1, now(), $2, 'test', '')",
            [(incident_id, "triggered"), (incident_id, "occurrence")])
    await conn.execute("DELETE FROM services WHERE id = $1::uuid", deleted)
    left = await conn.fetch("SELECT incident_id, count(*) FROM incident_log GROUP BY incident_id")
    assert {r[0]: r[1] for r in left} == {1: 2}
    assert await conn.fetchval("SELECT array_agg(id) FROM incidents") == [1]
