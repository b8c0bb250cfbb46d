"""Time as an input: the domain never reads the wall clock itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FakeClock:
    """A clock that tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


def require_aware(at: datetime) -> None:
    """Naive datetimes are refused: an instant without a zone means different things on different nodes."""
    if at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone")


def as_utc(at: datetime) -> datetime:
    require_aware(at)
    return at.astimezone(timezone.utc)
