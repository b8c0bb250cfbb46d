"""Who PagerDuty puts on call, worked out from a schedule's documented parts, simply and on its
own: the oracle the import is compared with, so it shares no code with Tocsin's schedules.

A layer is in force from `start` to `end`; its turns last `rotation_turn_length_seconds` from
`rotation_virtual_start`, and the turn's user is `users[turn % len(users)]`. Turns of whole days
hand off at the same wall-clock time in the schedule's zone across a clock change, shorter turns
count elapsed seconds. A restriction keeps the layer to its windows (daily: every day from
`start_time_of_day` for `duration_seconds`; weekly: from `start_day_of_week`, ISO 1 = Monday),
measured on the wall clock. The first layer listed is the highest; the highest layer with
someone wins, and an override wins over every layer (the latest listed of overlapping ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

DAY_S = 86_400


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _at(tz: ZoneInfo, naive: datetime) -> datetime:
    return naive.replace(tzinfo=tz).astimezone(timezone.utc)


def _turn(layer: dict[str, Any], tz: ZoneInfo, at: datetime) -> int:
    anchor = parse(layer["rotation_virtual_start"])
    length = int(layer["rotation_turn_length_seconds"])
    guess = int((at - anchor).total_seconds() // length)
    if length % DAY_S:
        return guess
    wall = anchor.astimezone(tz).replace(tzinfo=None)
    step = timedelta(days=length // DAY_S)
    while _at(tz, wall + guess * step) > at:
        guess -= 1
    while _at(tz, wall + (guess + 1) * step) <= at:
        guess += 1
    return guess


def _restriction_spans(restriction: dict[str, Any], tz: ZoneInfo, around: date) -> Iterator[tuple[datetime, datetime]]:
    begins = time.fromisoformat(restriction["start_time_of_day"])
    length = timedelta(seconds=int(restriction["duration_seconds"]))
    if restriction["type"] == "daily_restriction":
        days = [around - timedelta(days=1), around]
    else:
        back = (around.isoweekday() - int(restriction["start_day_of_week"])) % 7
        days = [around - timedelta(days=back + 7), around - timedelta(days=back)]
    for day in days:
        wall = datetime.combine(day, begins)
        yield _at(tz, wall), _at(tz, wall + length)


def _restricted_in(layer: dict[str, Any], tz: ZoneInfo, at: datetime) -> bool:
    if not layer.get("restrictions"):
        return True
    day = at.astimezone(tz).date()
    return any(begin <= at < end for r in layer["restrictions"] for begin, end in _restriction_spans(r, tz, day))


def layer_user(layer: dict[str, Any], tz: ZoneInfo, at: datetime) -> str | None:
    if at < parse(layer["start"]) or (layer.get("end") and at >= parse(layer["end"])):
        return None
    if at < parse(layer["rotation_virtual_start"]) or not _restricted_in(layer, tz, at):
        return None
    people = layer["users"]
    return str(people[_turn(layer, tz, at) % len(people)]["user"]["id"])


def on_call(schedule: dict[str, Any], overrides: list[dict[str, Any]], at: datetime) -> str | None:
    """The user on call at `at`, or None."""
    for override in reversed(overrides):
        if parse(override["start"]) <= at < parse(override["end"]):
            return str(override["user"]["id"])
    tz = ZoneInfo(schedule["time_zone"])
    for layer in schedule["schedule_layers"]:
        user = layer_user(layer, tz, at)
        if user is not None:
            return user
    return None


def _edges(schedule: dict[str, Any], overrides: list[dict[str, Any]], since: datetime, until: datetime) -> list[datetime]:
    """Every instant in [since, until) where who is on call may change."""
    tz = ZoneInfo(schedule["time_zone"])
    edges = {since}
    for override in overrides:
        edges |= {parse(override["start"]), parse(override["end"])}
    for layer in schedule["schedule_layers"]:
        edges |= {parse(layer["start"]), parse(layer["rotation_virtual_start"])}
        if layer.get("end"):
            edges.add(parse(layer["end"]))
        turn = _turn(layer, tz, since)
        anchor, length = parse(layer["rotation_virtual_start"]), int(layer["rotation_turn_length_seconds"])
        while True:
            if length % DAY_S:
                edge = anchor + timedelta(seconds=length * turn)
            else:
                wall = anchor.astimezone(tz).replace(tzinfo=None) + timedelta(days=length // DAY_S * turn)
                edge = _at(tz, wall)
            edges.add(edge)
            if edge >= until:
                break
            turn += 1
        day = since.astimezone(tz).date()
        while _at(tz, datetime.combine(day, time())) < until + timedelta(days=8):
            for restriction in layer.get("restrictions") or []:
                for begin, end in _restriction_spans(restriction, tz, day):
                    edges |= {begin, end}
            day += timedelta(days=1)
    return sorted(edge for edge in edges if since <= edge < until)


def final_schedule(schedule: dict[str, Any], overrides: list[dict[str, Any]], since: datetime,
                   until: datetime) -> list[tuple[datetime, datetime, str]]:
    """(start, end, user id) entries over [since, until), cut at its ends, gaps left out."""
    entries: list[tuple[datetime, datetime, str]] = []
    edges = _edges(schedule, overrides, since, until)
    for begin, end in zip(edges, [*edges[1:], until]):
        user = on_call(schedule, overrides, begin)
        if user is None:
            continue
        if entries and entries[-1][1] == begin and entries[-1][2] == user:
            entries[-1] = (entries[-1][0], end, user)
        else:
            entries.append((begin, end, user))
    return entries
