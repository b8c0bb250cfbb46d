"""Raw alerts, source-request outcomes, the ids of Twilio requests acted on and e-mail reply
tokens are pruned after the retention period; incidents and their log are kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg

from tocsin.actors.domain.email_replies import token_hash
from tocsin.actors.store import email_replies
from tocsin.actors.store.replies import claim_request
from tocsin.actors.store.retention import LOCK_KEY, prune
from tocsin.serve.retention import RetentionJob
from tests.conftest import statement_runner
from tests.integration.outbox_rows import Desk

NOW = datetime(2030, 6, 1, tzinfo=timezone.utc)


def alert_row(db: Callable[..., Any], service_id: str, incident_id: int, received_at: datetime) -> str:
    event_id = str(uuid.uuid4())
    db("execute", "INSERT INTO alerts (event_id, service_id, incident_id, action, dedup_key, outcome, received_at,"
                  " payload) VALUES ($1, $2, $3, 'trigger', 'k', 'occurrence', $4, '{}')",
       event_id, service_id, incident_id, received_at)
    return event_id


async def test_old_raw_alerts_go_and_incidents_stay(own_database: str) -> None:
    db = statement_runner(own_database)
    service_id = str(uuid.uuid4())
    db("execute", "INSERT INTO services (id, name) VALUES ($1, 'old')", service_id)
    incident_id = db("fetchval", """
        INSERT INTO incidents (id, service_id, dedup_key, status, summary, severity, occurrences, created_at,
                               updated_at, last_occurrence_at)
        VALUES (nextval('incident_ids'), $1, 'k', 'resolved', 'old one', 'info', 3, $2, $2, $2) RETURNING id""",
        service_id, NOW - timedelta(days=90))
    old = [alert_row(db, service_id, incident_id, NOW - timedelta(days=d)) for d in (31, 45, 90)]
    kept = alert_row(db, service_id, incident_id, NOW - timedelta(days=29))

    pool = await asyncpg.create_pool(own_database, min_size=1, max_size=2)
    try:
        async def get_pool() -> asyncpg.Pool:
            return pool

        deleted = await RetentionJob(get_pool, 30, lambda: NOW, 400).run_once()
        async with pool.acquire() as conn:
            assert await prune(conn, NOW - timedelta(days=30), batch=1) == 0  # nothing left to prune
    finally:
        await pool.close()

    assert deleted == len(old)
    assert [r["event_id"] for r in db("fetch", "SELECT event_id::text FROM alerts")] == [kept]
    assert db("fetchval", "SELECT occurrences FROM incidents WHERE id = $1", incident_id) == 3


async def test_twilio_request_ids_are_kept_as_long_as_raw_alerts(own_database: str) -> None:
    conn = await asyncpg.connect(own_database)
    try:
        for request_id, days in (("sms:SMold", 31), ("voice:CAold:4", 45), ("sms:SMrecent", 29)):
            assert await claim_request(conn, request_id, NOW - timedelta(days=days))

        assert await prune(conn, NOW - timedelta(days=30)) == 2

        assert [r["id"] for r in await conn.fetch("SELECT id FROM twilio_requests")] == ["sms:SMrecent"]
        assert not await claim_request(conn, "sms:SMrecent", NOW)  # still known: a replay is refused
        assert await claim_request(conn, "sms:SMold", NOW)
    finally:
        await conn.close()


async def test_only_one_process_prunes_at_a_time(own_database: str) -> None:
    holder = await asyncpg.connect(own_database)
    other = await asyncpg.connect(own_database)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        assert await prune(other, NOW) == 0  # the lock is taken: it leaves at once
    finally:
        await holder.close()
        await other.close()


async def test_email_reply_tokens_act_once_and_are_kept_as_long_as_raw_alerts(own_database: str) -> None:
    desk = Desk(statement_runner(own_database), "email", "dana@example.com")
    old, recent = desk.page(), desk.page()
    conn = await asyncpg.connect(own_database)
    try:
        [old_token] = (await email_replies.issue(conn, [old], NOW - timedelta(days=31))).values()
        [recent_token] = (await email_replies.issue(conn, [recent], NOW - timedelta(days=29))).values()
        hashed = token_hash(recent_token)
        assert await email_replies.claim(conn, hashed, NOW) and not await email_replies.claim(conn, hashed, NOW)
        await email_replies.release(conn, hashed)  # what it was used for did nothing
        assert await email_replies.claim(conn, hashed, NOW)

        assert await prune(conn, NOW - timedelta(days=30)) == 1

        assert await email_replies.target(conn, token_hash(old_token)) is None
        target = await email_replies.target(conn, hashed)
        assert target is not None and (target.notification_id, target.address, target.incident_status) == (
            recent, "dana@example.com", "triggered")
    finally:
        await conn.close()
