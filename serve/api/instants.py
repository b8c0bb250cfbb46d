"""Instants and windows in query strings: ISO 8601 with a UTC offset, or a 400 that names
the parameter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import HTTPException, Query

from tocsin.serve.api.schedule_models import EARLIEST, LATEST
from tocsin.serve.params import control_character

_ISO = "ISO 8601 instant with a UTC offset, such as 2026-01-05T09:00:00Z"
At = Annotated[str | None, Query(description=f"{_ISO}; default now")]
From = Annotated[str | None, Query(alias="from", description=f"{_ISO}; default now")]
To = Annotated[str | None, Query(description=_ISO)]


def instant(name: str, value: str | None, default: datetime) -> datetime:
    """The query parameter `name` as a UTC instant, `default` when absent."""
    if value is None:
        return default
    character = control_character(value)
    if character:  # fromisoformat takes a trailing NUL as if it were not there
        raise HTTPException(400, f"{name}: holds the control character {character}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        hint = " (send + as %2B in a query string)" if " " in value else ""
        raise HTTPException(400, f"{name}: {value!r} is not an ISO 8601 instant{hint}") from None
    if at.tzinfo is None:
        raise HTTPException(400, f"{name}: {value!r} needs a UTC offset, such as 2026-01-05T09:00:00Z")
    if not EARLIEST <= at < LATEST:
        raise HTTPException(400, f"{name}: must be between {EARLIEST.year} and {LATEST.year}")
    return at.astimezone(timezone.utc)


def window(
    start: str | None, end: str | None, now: datetime, length: timedelta, longest: timedelta
) -> tuple[datetime, datetime]:
    """[from, to) from the `from` and `to` parameters: from defaults to `now`, to to
    `length` after from. A window longer than `longest` is refused."""
    begin = instant("from", start, now)
    finish = instant("to", end, begin + length)
    if finish <= begin:
        raise HTTPException(400, "to: must be after from")
    if finish - begin > longest:
        raise HTTPException(400, f"to: the window from from to to is at most {longest.days} days")
    return begin, finish
