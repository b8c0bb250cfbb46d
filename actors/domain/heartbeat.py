"""Heartbeat monitors: a job pings at least every interval, and a silence longer than the
interval plus a grace period opens an incident on the heartbeat's service.

Pure: the deadline, whether a ping recovers a heartbeat, and the alert events a missed
deadline and a recovering ping become. The event of a missed deadline has an id fixed by
the heartbeat and the deadline, so whoever submits it again for the same expiry submits
the same event, which the shard stores once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from tocsin.actors.domain.clock import as_utc
from tocsin.actors.domain.events import Action, AlertEvent, Severity

SOURCE = "heartbeat"
# Names the ids of missed-deadline events; any constant works, as long as it never changes.
_MISSED = uuid.UUID("5f0c3f8e-7a51-4c1e-9a0b-4e6f2f1d8c37")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the deadline and the events need to know about one heartbeat."""

    id: str
    service_id: str
    name: str
    interval_s: int
    grace_s: int
    state: str  # inactive (never pinged), healthy, unhealthy (its deadline passed)
    last_ping_at: datetime | None
    expires_at: datetime | None


def deadline(last_ping_at: datetime, interval_s: int, grace_s: int) -> datetime:
    """When a heartbeat pinged at `last_ping_at` is missed: the interval, then the grace."""
    return as_utc(last_ping_at) + timedelta(seconds=interval_s + grace_s)


def is_due(beat: Heartbeat, now: datetime) -> bool:
    """A healthy heartbeat whose deadline has passed. An inactive one never is: it has not
    pinged yet, so nothing is late."""
    return beat.state == "healthy" and beat.expires_at is not None and beat.expires_at <= now


def recovers(beat: Heartbeat, now: datetime) -> bool:
    """Whether a ping now may close an incident: the heartbeat was marked unhealthy, or its
    deadline passed and the monitor may have opened one without recording that yet."""
    return beat.state == "unhealthy" or is_due(beat, now)


def dedup_key(heartbeat_id: str) -> str:
    return f"heartbeat:{heartbeat_id}"


def missed_event_id(heartbeat_id: str, expires_at: datetime) -> str:
    """The same id for the same heartbeat and deadline, whoever computes it and when."""
    return str(uuid.uuid5(_MISSED, f"{heartbeat_id}@{as_utc(expires_at).isoformat()}"))


def summary(beat: Heartbeat) -> str:
    last = "never" if beat.last_ping_at is None else f"{as_utc(beat.last_ping_at):%Y-%m-%d %H:%M:%S} UTC"
    return f"Heartbeat {beat.name} missed: no ping since {last}"


def missed(beat: Heartbeat, now: datetime) -> AlertEvent:
    """The trigger for a heartbeat whose deadline passed, received `now`."""
    if beat.expires_at is None:
        raise ValueError(f"heartbeat {beat.id} has no deadline: it has never pinged")
    details = {
        "heartbeat_id": beat.id, "heartbeat": beat.name, "interval_seconds": beat.interval_s,
        "grace_seconds": beat.grace_s, "last_ping_at": _iso(beat.last_ping_at), "expired_at": _iso(beat.expires_at),
    }
    return AlertEvent(
        event_id=missed_event_id(beat.id, beat.expires_at), service_id=beat.service_id, integration_id=None,
        dedup_key=dedup_key(beat.id), action=Action.TRIGGER, received_at=now, summary=summary(beat),
        severity=Severity.CRITICAL, source=SOURCE, payload=orjson.dumps(details).decode(),
    )


def recovered(beat: Heartbeat, now: datetime) -> AlertEvent:
    """The resolve a recovering ping sends. Each ping is an event of its own, and a resolve
    with no open incident is dropped, so sending it again is harmless."""
    details = {"heartbeat_id": beat.id, "heartbeat": beat.name, "pinged_at": _iso(now)}
    return AlertEvent(
        event_id=str(uuid.uuid4()), service_id=beat.service_id, integration_id=None, dedup_key=dedup_key(beat.id),
        action=Action.RESOLVE, received_at=now, summary=f"Heartbeat {beat.name} pinged again", source=SOURCE,
        payload=orjson.dumps(details).decode(),
    )


def _iso(at: datetime | None) -> str | None:
    return None if at is None else as_utc(at).isoformat()
