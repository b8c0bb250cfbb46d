"""Time as an input: the domain never reads the wall clock itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """`speed`: business seconds per wall-clock second (1.0 but for a `ScaledClock`), so
    that a wait for a business deadline can be measured in wall time."""

    speed: float

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, always timezone-aware UTC."""

    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FakeClock:
    """A clock that tests move by hand."""

    speed = 1.0

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


class ScaledClock:
    """Business time running `speed` times faster than the wall clock from `origin`.

    A pure function of the wall clock, so every process given the same one agrees on the
    time, and a restarted actor carries on where it was: demos and tests use it to watch
    minute-long escalation delays pass in seconds."""

    def __init__(self, speed: float, origin: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.origin = origin or datetime.now(timezone.utc)

    def now(self) -> datetime:
        elapsed = datetime.now(timezone.utc) - self.origin
        return self.origin + elapsed * self.speed


def require_aware(at: datetime) -> None:
    """Naive datetimes are refused: an instant without a zone means different things on different nodes."""
    if at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone")


def as_utc(at: datetime) -> datetime:
    require_aware(at)
    return at.astimezone(timezone.utc)
