"""Noise control through a real shard, across restarts: auto-resolve is a persisted deadline
like escalation, and maintenance windows are read from Postgres, so a restarted shard keeps
both. Business time runs 20x faster (ScaledClock)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import ray

from tocsin.actors.domain.clock import ScaledClock
from tocsin.actors.domain.events import Action, AlertEvent
from tests.integration.test_escalation_restart import (
    SPEED,
    kill_and_await_restart,
    make_escalating_service,
    make_user,
    notifications,
    shard_for,
    wait_for,
)


def test_a_quiet_incident_resolves_itself_on_time_across_a_shard_restart(
    ray_address: str, database_url: str, db: Callable[..., Any]
) -> None:
    service_id = str(uuid.uuid4())
    db("execute", "INSERT INTO services (id, name, auto_resolve_minutes) VALUES ($1, 'batch-jobs', 1)", service_id)
    clock = ScaledClock(SPEED)
    shard = shard_for(service_id, database_url, clock)
    try:
        opened_at = clock.now()
        [reply] = ray.get(shard.apply.remote([AlertEvent(
            event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key="nightly-backup",
            action=Action.TRIGGER, received_at=opened_at, summary="nightly backup slow",
        )]), timeout=30)
        assert reply.outcome == "opened"
        ray.kill(shard, no_restart=False)

        def status() -> str:
            value: str = db("fetchval", "SELECT status FROM incidents WHERE id = $1", reply.incident_id)
            return value

        assert wait_for(lambda: status() == "resolved", 60 / SPEED + 20), "never resolved"
        row = db("fetchrow", "SELECT resolved_at, auto_resolve_at FROM incidents WHERE id = $1", reply.incident_id)
        assert row["auto_resolve_at"] == opened_at + timedelta(minutes=1)
        # Never early; late by about the restart, which a loaded machine stretches to seconds (the
        # deadline falls 3 s after the kill): a deadline lost in the restart would resolve only when
        # some later sweep found it, if ever.
        late = (row["resolved_at"] - row["auto_resolve_at"]).total_seconds() / SPEED
        assert 0 <= late < 10, f"resolved {late:.2f} s late"
        log = db("fetch", "SELECT kind, actor, message FROM incident_log WHERE incident_id = $1 ORDER BY id",
                 reply.incident_id)
        assert (log[-1]["kind"], log[-1]["actor"]) == ("resolved", "tocsin")
        assert "no new occurrence" in log[-1]["message"]
    finally:
        ray.kill(shard, no_restart=True)


def test_maintenance_holds_across_a_shard_restart_and_ends_on_time(
    ray_address: str, database_url: str, db: Callable[..., Any]
) -> None:
    service_id = make_escalating_service(db, make_user(db, "ola"), make_user(db, "pat"))
    clock = ScaledClock(SPEED)
    db("execute", "INSERT INTO maintenance_windows (id, service_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
       str(uuid.uuid4()), service_id, clock.now() - timedelta(minutes=1), clock.now() + timedelta(minutes=2))
    shard = shard_for(service_id, database_url, clock)

    def trigger(key: str) -> str:
        [reply] = ray.get(shard.apply.remote([AlertEvent(
            event_id=str(uuid.uuid4()), service_id=service_id, integration_id=None, dedup_key=key,
            action=Action.TRIGGER, received_at=clock.now(), summary=f"{key} failing",
        )]), timeout=30)
        return str(reply.outcome)

    try:
        assert trigger("before-restart") == "opened"
        kill_and_await_restart(shard)
        assert trigger("after-restart") == "opened"
        assert notifications(db, service_id) == []  # recorded, paging nobody

        assert wait_for(lambda: clock.now() > clock.origin + timedelta(minutes=2.1), 20)
        assert trigger("after-the-window") == "opened"
        assert len(notifications(db, service_id)) == 1
    finally:
        ray.kill(shard, no_restart=True)
