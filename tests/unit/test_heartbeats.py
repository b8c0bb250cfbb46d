"""Heartbeats, pure: the deadline, when a heartbeat is due or recovers, the events it
becomes, and the request bodies of its API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tocsin.actors.domain import heartbeat
from tocsin.actors.domain.events import Action, Severity
from tocsin.actors.domain.heartbeat import Heartbeat
from tocsin.serve.api.heartbeats import HeartbeatIn, HeartbeatPatch

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
PARIS = timezone(timedelta(hours=1))
BEAT_ID = "0b6f1c56-6d49-4a0e-9a51-7f1a3c0d2e11"


def beat(state: str = "healthy", last: datetime | None = T0, expires: datetime | None = None) -> Heartbeat:
    if expires is None and last is not None:
        expires = heartbeat.deadline(last, 300, 60)
    return Heartbeat(BEAT_ID, "svc-1", "nightly-backup", 300, 60, state, last, expires)


def test_the_deadline_is_the_last_ping_plus_interval_plus_grace() -> None:
    assert heartbeat.deadline(T0, 300, 60) == T0 + timedelta(seconds=360)
    assert heartbeat.deadline(T0, 10, 0) == T0 + timedelta(seconds=10)


def test_the_deadline_is_utc_whatever_zone_the_ping_time_is_in() -> None:
    in_paris = T0.astimezone(PARIS)
    assert heartbeat.deadline(in_paris, 60, 0).utcoffset() == timedelta(0)
    assert heartbeat.deadline(in_paris, 60, 0) == T0 + timedelta(seconds=60)


def test_a_time_without_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        heartbeat.deadline(datetime(2026, 3, 1, 12, 0), 60, 0)


@given(interval=st.integers(1, 86_400), grace=st.integers(0, 86_400),
       offset=st.integers(-10**9, 10**9))
def test_deadline_arithmetic_holds_for_any_interval_and_grace(interval: int, grace: int, offset: int) -> None:
    last = T0 + timedelta(microseconds=offset)
    assert heartbeat.deadline(last, interval, grace) - last == timedelta(seconds=interval + grace)


def test_due_only_once_the_deadline_of_a_healthy_heartbeat_has_passed() -> None:
    expires = T0 + timedelta(seconds=360)
    assert not heartbeat.is_due(beat(), expires - timedelta(microseconds=1))
    assert heartbeat.is_due(beat(), expires)
    assert heartbeat.is_due(beat(), expires + timedelta(days=3))  # a monitor that was down catches up
    assert not heartbeat.is_due(beat("unhealthy"), expires + timedelta(hours=1))  # raised already
    assert not heartbeat.is_due(beat("inactive", None, None), T0 + timedelta(days=365))  # never pinged


def test_a_ping_recovers_an_unhealthy_or_overdue_heartbeat_only() -> None:
    expires = T0 + timedelta(seconds=360)
    assert heartbeat.recovers(beat("unhealthy"), T0 + timedelta(seconds=1))
    assert heartbeat.recovers(beat(), expires)  # overdue, perhaps raised without being marked
    assert not heartbeat.recovers(beat(), expires - timedelta(seconds=1))
    assert not heartbeat.recovers(beat("inactive", None, None), T0)


def test_the_missed_event_id_is_stable_per_heartbeat_and_expiry() -> None:
    expires = T0 + timedelta(seconds=360)
    first = heartbeat.missed_event_id(BEAT_ID, expires)
    assert first == heartbeat.missed_event_id(BEAT_ID, expires)
    assert first == heartbeat.missed_event_id(BEAT_ID, expires.astimezone(PARIS))  # same instant
    assert uuid.UUID(first).version == 5
    assert first != heartbeat.missed_event_id(BEAT_ID, expires + timedelta(microseconds=1))
    assert first != heartbeat.missed_event_id(str(uuid.uuid4()), expires)


def test_raising_the_same_expiry_twice_gives_the_same_event_id_whenever_it_is_raised() -> None:
    late = beat()
    now = T0 + timedelta(seconds=400)
    first, retried = heartbeat.missed(late, now), heartbeat.missed(late, now + timedelta(minutes=5))
    assert first.event_id == retried.event_id
    assert first.received_at == now and retried.received_at == now + timedelta(minutes=5)
    pinged_again = beat(last=T0 + timedelta(seconds=350))
    assert heartbeat.missed(pinged_again, now + timedelta(minutes=5)).event_id != first.event_id


def test_a_missed_deadline_is_a_critical_trigger_keyed_by_the_heartbeat() -> None:
    event = heartbeat.missed(beat(), T0 + timedelta(seconds=361))
    assert event.action is Action.TRIGGER
    assert event.severity is Severity.CRITICAL
    assert (event.dedup_key, event.source, event.service_id) == (f"heartbeat:{BEAT_ID}", "heartbeat", "svc-1")
    assert event.summary == "Heartbeat nightly-backup missed: no ping since 2026-03-01 12:00:00 UTC"
    details = orjson.loads(event.payload)
    assert details["expired_at"] == "2026-03-01T12:06:00+00:00"
    assert (details["interval_seconds"], details["grace_seconds"]) == (300, 60)


def test_a_heartbeat_that_never_pinged_has_no_missed_event() -> None:
    with pytest.raises(ValueError, match="never pinged"):
        heartbeat.missed(beat("inactive", None, None), T0)


def test_a_recovering_ping_resolves_by_the_same_dedup_key_with_an_id_of_its_own() -> None:
    now = T0 + timedelta(hours=1)
    first, second = heartbeat.recovered(beat("unhealthy"), now), heartbeat.recovered(beat("unhealthy"), now)
    assert first.action is Action.RESOLVE
    assert first.dedup_key == heartbeat.missed(beat(), now).dedup_key
    assert first.event_id != second.event_id


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "cron", "interval_seconds": 9}, "interval_seconds"),
    ({"name": "cron", "interval_seconds": 86_401}, "interval_seconds"),
    ({"name": "cron", "interval_seconds": 60, "grace_seconds": -1}, "grace_seconds"),
    ({"name": "", "interval_seconds": 60}, "name"),
    ({"interval_seconds": 60}, "name"),
    ({"name": "cron"}, "interval_seconds"),
    ({"name": "cron", "interval_minutes": 5}, "interval_minutes"),
])
def test_bad_heartbeat_bodies_are_refused_naming_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        HeartbeatIn.model_validate(body)
    assert field in {str(e["loc"][0]) for e in refused.value.errors()}


def test_the_interval_bounds_are_inclusive_and_grace_defaults_to_a_minute() -> None:
    assert HeartbeatIn.model_validate({"name": "cron", "interval_seconds": 10}).grace_seconds == 60
    assert HeartbeatIn.model_validate({"name": "cron", "interval_seconds": 86_400, "grace_seconds": 0})
    assert HeartbeatPatch.model_validate({}).model_dump(exclude_unset=True) == {}
    with pytest.raises(ValidationError):
        HeartbeatPatch.model_validate({"interval_seconds": 5})
