"""Time conditions: weekdays and time-of-day windows on a zone's wall clock, across DST."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.rules import RuleErrors, compile_service_rules, view_of
from tocsin.actors.domain.rules.problems import Problems
from tocsin.actors.domain.rules.timewindow import DAY_NAMES, compile_time

UTC = timezone.utc
VIEW = view_of("generic", {})

# 2026's offsets from UTC, written from each zone's published rules (not computed with zoneinfo,
# which test_the_reference_table_agrees_with_zoneinfo checks): (in force from, offset).
OFFSETS: dict[str, list[tuple[datetime, timedelta]]] = {
    "Europe/Berlin": [(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1)),
                      (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), timedelta(hours=2)),  # 02:00 → 03:00
                      (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), timedelta(hours=1))],  # 03:00 → 02:00
    "America/New_York": [(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=-5)),
                         (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), timedelta(hours=-4)),
                         (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), timedelta(hours=-5))],
    "Australia/Lord_Howe": [(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=11)),
                            (datetime(2026, 4, 4, 15, 0, tzinfo=UTC), timedelta(hours=10, minutes=30)),  # 02:00 → 01:30
                            (datetime(2026, 10, 3, 15, 30, tzinfo=UTC), timedelta(hours=11))],  # 02:00 → 02:30
}
TRANSITIONS = [at for table in OFFSETS.values() for at, _ in table[1:]]
MINUTES_A_WEEK = 7 * 24 * 60


def window(spec: dict[str, Any]) -> Any:
    problems = Problems()
    clocked = compile_time(spec, "time", problems)
    problems.raise_any()
    assert clocked is not None
    return clocked


def local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")


def test_office_hours_in_berlin() -> None:
    office = window({"zone": "Europe/Berlin", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
                     "from": "09:00", "to": "18:00"})
    wednesday = datetime(2026, 1, 7, tzinfo=UTC)  # Berlin is UTC+1 in January
    assert not office(wednesday + timedelta(hours=7, minutes=59))  # 08:59
    assert office(wednesday + timedelta(hours=8))  # 09:00
    assert office(wednesday + timedelta(hours=16, minutes=59, seconds=59))  # 17:59:59
    assert not office(wednesday + timedelta(hours=17))  # 18:00
    assert not office(datetime(2026, 1, 10, 10, 0, tzinfo=UTC))  # Saturday


def test_outside_office_hours_is_not_of_the_window() -> None:
    rules = compile_service_rules([{"id": "night", "conditions": {"not": {"time": {
        "zone": "Europe/Berlin", "weekdays": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}}}}])
    assert rules.evaluate(VIEW, datetime(2026, 7, 1, 6, 59, tzinfo=UTC)).matched == ("night",)  # 08:59 CEST
    assert rules.evaluate(VIEW, datetime(2026, 7, 1, 7, 0, tzinfo=UTC)).matched == ()  # 09:00 CEST
    assert rules.evaluate(VIEW, datetime(2026, 7, 4, 12, 0, tzinfo=UTC)).matched == ("night",)  # Saturday


def test_a_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = window({"zone": "UTC", "weekdays": ["friday"], "from": "22:00", "to": "06:00"})
    friday = datetime(2026, 1, 9, tzinfo=UTC)
    assert not friday_night(friday + timedelta(hours=21, minutes=59))
    assert friday_night(friday + timedelta(hours=22))
    assert friday_night(friday + timedelta(days=1, hours=5, minutes=59))  # Saturday 05:59
    assert not friday_night(friday + timedelta(days=1, hours=6))
    assert not friday_night(friday + timedelta(days=1, hours=22))  # Saturday night
    assert not friday_night(friday + timedelta(hours=3))  # Friday 03:00 belongs to Thursday's night


def test_weekdays_alone_and_times_alone() -> None:
    weekend = window({"zone": "America/New_York", "weekdays": ["Sat", "SUNDAY"]})
    assert weekend(datetime(2026, 1, 10, 12, tzinfo=UTC))
    assert weekend(datetime(2026, 1, 12, 4, 59, tzinfo=UTC))  # Sunday 23:59 in New York
    assert not weekend(datetime(2026, 1, 12, 5, 0, tzinfo=UTC))  # Monday 00:00 in New York
    evenings = window({"zone": "UTC", "from": "18:00", "to": "24:00"})
    assert evenings(datetime(2026, 1, 12, 23, 59, 59, tzinfo=UTC))
    assert not evenings(datetime(2026, 1, 13, 0, 0, tzinfo=UTC))


def test_a_wall_time_the_clocks_skip_never_holds() -> None:
    skipped = window({"zone": "Europe/Berlin", "from": "02:00", "to": "03:00"})
    night = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    held = [night + timedelta(minutes=m) for m in range(0, 6 * 60) if skipped(night + timedelta(minutes=m))]
    assert held == []  # 01:59 CET is followed by 03:00 CEST


def test_a_wall_time_that_happens_twice_holds_both_times() -> None:
    repeated = window({"zone": "Europe/Berlin", "from": "02:00", "to": "03:00"})
    night = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    held = [m for m in range(0, 6 * 60) if repeated(night + timedelta(minutes=m))]
    assert (held[0], held[-1], len(held)) == (60, 179, 120)  # 00:00 to 02:00 UTC: 02:00-02:59 CEST, then CET


def test_lord_howe_moves_its_clocks_by_half_an_hour() -> None:
    half_hour = window({"zone": "Australia/Lord_Howe", "from": "01:30", "to": "02:00"})
    april = datetime(2026, 4, 4, 14, 0, tzinfo=UTC)  # 01:00 LHDT; at 15:00 UTC 02:00 LHDT becomes 01:30 LHST
    held = [m for m in range(0, 3 * 60) if half_hour(april + timedelta(minutes=m))]
    assert held == list(range(30, 90))  # 01:30-01:59 twice, back to back
    october = datetime(2026, 10, 3, 14, 0, tzinfo=UTC)  # 01:30 LHST; at 15:30 UTC 02:00 becomes 02:30
    skipped = window({"zone": "Australia/Lord_Howe", "from": "02:00", "to": "02:30"})
    assert [m for m in range(0, 3 * 60) if skipped(october + timedelta(minutes=m))] == []


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        window({"zone": "UTC", "weekdays": ["mon"]})(datetime(2026, 1, 5, 12, 0))


WHOLE_DAY = 'time: "from" and "to" make the whole day; leave both out for that'


@pytest.mark.parametrize(("spec", "problems"), [
    ({"zone": "Mars/Olympus_Mons", "weekdays": ["mon"]},
     ['time.zone: unknown time zone "Mars/Olympus_Mons"; use an IANA name such as Europe/Berlin']),
    ({"zone": "../../etc/passwd", "weekdays": ["mon"]},
     ['time.zone: unknown time zone "../../etc/passwd"; use an IANA name such as Europe/Berlin']),
    ({"weekdays": ["mon"]}, ["time.zone: required"]),
    ({"zone": 1, "from": "09:00", "to": "18:00"},
     ["time.zone: must be an IANA time zone name such as Europe/Berlin, not a number"]),
    ({"zone": "UTC"}, ['time: names neither "weekdays" nor "from" and "to"']),
    ({"zone": "UTC", "weekdays": []}, ["time.weekdays: names no day; leave it out for every day"]),
    ({"zone": "UTC", "weekdays": ["mon", "funday", 3]},
     ['time.weekdays[1]: "funday" is not a weekday; write mon, tue, wed, thu, fri, sat or sun',
      "time.weekdays[2]: 3 is not a weekday; write mon, tue, wed, thu, fri, sat or sun"]),
    ({"zone": "UTC", "from": "09:00"}, ['time.to: required with "from" and "to" both, or neither for the whole day']),
    ({"zone": "UTC", "from": "9:00", "to": "24:01"},
     ['time.from: must be a time of day, HH:MM from 00:00 to 23:59, not "9:00"',
      'time.to: must be a time of day, HH:MM from 00:00 to 24:00, not "24:01"']),
    ({"zone": "UTC", "from": "24:00", "to": "12:60"},
     ['time.from: must be a time of day, HH:MM from 00:00 to 23:59, not "24:00"',
      'time.to: must be a time of day, HH:MM from 00:00 to 24:00, not "12:60"']),
    ({"zone": "UTC", "from": "08:00", "to": "08:00"}, [WHOLE_DAY]),
    ({"zone": "UTC", "from": "00:00", "to": "24:00"}, [WHOLE_DAY]),
    ({"zone": "UTC", "weekdays": ["mon"], "at": "noon"},
     ['time.at: unknown key; expected one of "zone", "weekdays", "from", "to"']),
    ("weekdays", ["time: must be an object, not a string"]),
])
def test_bad_time_conditions_are_refused_naming_each_problem(spec: Any, problems: list[str]) -> None:
    found = Problems()
    assert compile_time(spec, "time", found) is None
    with pytest.raises(RuleErrors) as refused:
        found.raise_any()
    assert [str(problem) for problem in refused.value.problems] == problems


def test_the_reference_table_agrees_with_zoneinfo() -> None:
    for name, table in OFFSETS.items():
        zone = ZoneInfo(name)
        for at, offset in table:
            assert at.astimezone(zone).utcoffset() == offset, (name, at)
            if at.month > 1:
                assert (at - timedelta(seconds=1)).astimezone(zone).utcoffset() != offset, (name, at)


def reference(zone: str, days: set[int], start: int | None, end: int | None, instant: datetime) -> bool:
    """Whether `instant` is in the window, by the table's offset and minutes of the local week."""
    offset = [offset for at, offset in OFFSETS[zone] if at <= instant][-1]
    wall = (instant.astimezone(UTC) + offset).replace(tzinfo=None)
    minute_of_week = wall.weekday() * 24 * 60 + wall.hour * 60 + wall.minute
    begin, length = (0, 24 * 60) if start is None or end is None else (start, (end - start) % (24 * 60))
    return any((minute_of_week - (day * 24 * 60 + begin)) % MINUTES_A_WEEK < length for day in days)


YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
anywhere_in_2026 = st.integers(0, 364 * 24 * 3600).map(lambda s: YEAR_START + timedelta(seconds=s))
near_a_transition = st.tuples(st.sampled_from(TRANSITIONS), st.integers(-30 * 3600, 30 * 3600)).map(
    lambda pair: pair[0] + timedelta(seconds=pair[1]))
# Wall times around the transitions (01:00-03:59) come up often.
minute_of_day = st.one_of(st.integers(0, 24 * 60 - 1), st.integers(60, 4 * 60 - 1),
                          st.sampled_from([90, 120, 150, 180]))


@settings(max_examples=600, deadline=None)
@given(zone=st.sampled_from(sorted(OFFSETS)), days=st.sets(st.integers(0, 6), min_size=1),
       all_days=st.booleans(), times=st.one_of(st.none(), st.tuples(minute_of_day, minute_of_day)),
       to_midnight=st.booleans(), instant=st.one_of(anywhere_in_2026, near_a_transition))
def test_time_conditions_agree_with_a_reference_across_dst(zone: str, days: set[int], all_days: bool,
                                                           times: tuple[int, int] | None, to_midnight: bool,
                                                           instant: datetime) -> None:
    spec: dict[str, Any] = {"zone": zone}
    if not all_days or times is None:
        spec["weekdays"] = [DAY_NAMES[day][:3] for day in sorted(days)]
    else:
        days = set(range(7))
    start = end = None
    if times is not None:
        start, end = times[0], 24 * 60 if to_midnight else times[1]
        if start == end or (start, end) == (0, 24 * 60):
            end = (start + 1) % (24 * 60) or 24 * 60
        spec |= {"from": f"{start // 60:02d}:{start % 60:02d}", "to": f"{end // 60:02d}:{end % 60:02d}"}
    expected = reference(zone, days, start, end, instant)
    assert window(spec)(instant) is expected, (spec, instant.isoformat(), local(instant, zone))
