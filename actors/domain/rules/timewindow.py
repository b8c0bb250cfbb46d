"""Time conditions: the weekday and the time of day, on the wall clock of a named IANA zone.

    {"time": {"zone": "Europe/Berlin", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
              "from": "09:00", "to": "18:00"}}

holds from 09:00 up to (not including) 18:00, Berlin time, Monday to Friday; "outside office
hours" is `{"not": {"time": …}}`. `zone` is required; `weekdays` (mon … sun, or full names)
defaults to every day, and `from`/`to` ("HH:MM", `to` may be "24:00") to the whole day; at least
one of the two is given. A window whose `to` is before its `from` crosses midnight: "22:00" to
"06:00" on ["fri"] holds from Friday 22:00 to Saturday 06:00; the hours after midnight belong
to the day the window started.

The instant (`now`, timezone-aware) is read on the zone's wall clock with zoneinfo, so daylight
saving time is what the clocks there show: on the night clocks go forward, a wall time they
skip never holds; on the night they go back, a wall time that happens twice holds both times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .problems import Problems, json_kind, key_path, read_list, read_object, shown

MINUTES_A_DAY = 24 * 60
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS: Mapping[str, int] = {**{name[:3]: day for day, name in enumerate(DAY_NAMES)},
                               **{name: day for day, name in enumerate(DAY_NAMES)}}
KEYS = ("zone", "weekdays", "from", "to")

Clocked = Callable[[datetime], bool]


def compile_time(spec: Any, where: str, problems: Problems) -> Clocked | None:
    """The test of one time condition's spec (the object under "time"), or None with its
    problems noted."""
    before = problems.count()
    body = read_object(spec, where, problems, allowed=KEYS, required=("zone",))
    if body is None:
        return None
    zone = _zone(body.get("zone"), key_path(where, "zone"), problems) if "zone" in body else None
    days = _days(body["weekdays"], key_path(where, "weekdays"), problems) if "weekdays" in body else None
    window = _window(body, where, problems)
    if not {"weekdays", "from", "to"} & body.keys():
        problems.add(where, 'names neither "weekdays" nor "from" and "to"')
    if zone is None or problems.count() > before:
        return None
    return in_window(zone, frozenset(range(7)) if days is None else days, window)


def in_window(zone: ZoneInfo, days: frozenset[int], window: tuple[int, int] | None) -> Clocked:
    """Whether an instant falls, on `zone`'s wall clock, on one of `days` (0 is Monday) and within
    `window` (minutes of the day, from inclusive, to exclusive; to < from crosses midnight)."""
    if window is None:
        def on_day(now: datetime) -> bool:
            return _local(now, zone).weekday() in days
        return on_day
    start, end = window
    if start < end:
        def within(now: datetime) -> bool:
            local = _local(now, zone)
            return start <= local.hour * 60 + local.minute < end and local.weekday() in days
        return within

    def across_midnight(now: datetime) -> bool:
        local = _local(now, zone)
        minute = local.hour * 60 + local.minute
        if minute >= start:
            return local.weekday() in days
        return minute < end and (local.weekday() - 1) % 7 in days
    return across_midnight


def _local(now: datetime, zone: ZoneInfo) -> datetime:
    if now.tzinfo is None:
        raise ValueError("time conditions need a timezone-aware instant")
    return now.astimezone(zone)


def _zone(name: Any, where: str, problems: Problems) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        problems.add(where, f"must be an IANA time zone name such as Europe/Berlin, not {json_kind(name)}")
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(where, f'unknown time zone "{name}"; use an IANA name such as Europe/Berlin')
        return None


def _days(value: Any, where: str, problems: Problems) -> frozenset[int] | None:
    names = read_list(value, where, problems)
    if names is None:
        return None
    if not names:
        problems.add(where, "names no day; leave it out for every day")
        return None
    days: set[int] = set()
    for index, name in enumerate(names):
        day = WEEKDAYS.get(name.lower()) if isinstance(name, str) else None
        if day is None:
            problems.add(f"{where}[{index}]",
                         f"{shown(name)} is not a weekday; write mon, tue, wed, thu, fri, sat or sun")
        else:
            days.add(day)
    return frozenset(days)


def _window(body: Mapping[str, Any], where: str, problems: Problems) -> tuple[int, int] | None:
    if "from" not in body and "to" not in body:
        return None
    if "from" not in body or "to" not in body:
        missing = "from" if "from" not in body else "to"
        problems.add(key_path(where, missing), 'required with "from" and "to" both, or neither for the whole day')
        return None
    start = _minute(body["from"], key_path(where, "from"), problems, latest=MINUTES_A_DAY - 1)
    end = _minute(body["to"], key_path(where, "to"), problems, latest=MINUTES_A_DAY)
    if start is None or end is None:
        return None
    if start == end or (start == 0 and end == MINUTES_A_DAY):
        problems.add(where, '"from" and "to" make the whole day; leave both out for that')
        return None
    return start, end


def _minute(value: Any, where: str, problems: Problems, latest: int) -> int | None:
    """ "HH:MM" as minutes since midnight."""
    text = value if isinstance(value, str) else ""
    hours, colon, minutes = text.partition(":")
    if (colon and len(hours) == 2 and len(minutes) == 2 and hours.isascii() and minutes.isascii()
            and hours.isdigit() and minutes.isdigit() and int(minutes) < 60):
        minute = int(hours) * 60 + int(minutes)
        if minute <= latest:
            return minute
    limit = "24:00" if latest == MINUTES_A_DAY else "23:59"
    problems.add(where, f"must be a time of day, HH:MM from 00:00 to {limit}, not {shown(value)}")
    return None
