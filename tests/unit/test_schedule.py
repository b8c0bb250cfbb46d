"""On-call schedule computation: rotations, restrictions, layers and overrides (GoAlert /
PagerDuty semantics), including handoffs across DST."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.schedule import (
    OVERRIDE,
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    Unit,
    Window,
    final_shifts,
    layer_shifts,
    merge_adjacent,
    on_call,
)

UTC = timezone.utc
UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
NINE = time(9)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def rotation(
    people: str, start: datetime, length: int = 1, unit: Unit = Unit.WEEKS, handoff: time = NINE
) -> Rotation:
    return Rotation(tuple(people.split()), start, length, unit, handoff)


def wall(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz).replace(tzinfo=None)


def turns(shifts: list[Shift], tz: ZoneInfo = UTC_ZONE) -> list[tuple[str, datetime, datetime]]:
    """Shifts as (user, local start, local end) without tzinfo, for readable expectations."""
    return [(s.user_id, wall(s.start, tz), wall(s.end, tz)) for s in shifts]


# -- examples --------------------------------------------------------------------------


def test_weekly_rotation_of_three_hands_off_monday_nine_local() -> None:
    layer = Layer(rotation("ann bob cy", local(BERLIN, 2026, 1, 5, 9)))  # a Monday
    shifts = layer_shifts(layer, BERLIN, local(BERLIN, 2026, 1, 5, 9), local(BERLIN, 2026, 2, 2, 9))
    mondays = [datetime(2026, 1, 5 + 7 * week, 9) for week in range(4)] + [datetime(2026, 2, 2, 9)]
    expected = zip(["ann", "bob", "cy", "ann"], mondays, mondays[1:])
    assert turns(shifts, BERLIN) == list(expected)


def test_twelve_hour_rotation() -> None:
    layer = Layer(rotation("ann bob", utc(2026, 1, 1, 8), 12, Unit.HOURS, time(8)))
    shifts = layer_shifts(layer, UTC_ZONE, utc(2026, 1, 1, 8), utc(2026, 1, 3, 8))
    assert [(s.user_id, s.start.hour) for s in shifts] == [("ann", 8), ("bob", 20)] * 2
    assert all(s.end - s.start == timedelta(hours=12) for s in shifts)


def test_hour_shifts_count_real_hours_across_dst() -> None:
    layer = Layer(rotation("ann bob", local(NEW_YORK, 2026, 3, 7, 9), 12, Unit.HOURS))
    start = local(NEW_YORK, 2026, 3, 7, 9).astimezone(UTC)  # same-zone arithmetic would be in wall time
    shifts = layer_shifts(layer, NEW_YORK, start, start + timedelta(hours=48))
    assert all(s.end - s.start == timedelta(hours=12) for s in shifts)
    assert [s.start.astimezone(NEW_YORK).hour for s in shifts] == [9, 21, 10, 22]  # clocks went forward on Mar 8


def test_custom_three_day_rotation() -> None:
    layer = Layer(rotation("ann bob", local(NEW_YORK, 2026, 3, 1, 9), 3, Unit.DAYS))
    shifts = layer_shifts(layer, NEW_YORK, local(NEW_YORK, 2026, 3, 1), local(NEW_YORK, 2026, 3, 13, 9))
    assert turns(shifts, NEW_YORK) == [
        ("ann", datetime(2026, 3, 1, 9), datetime(2026, 3, 4, 9)),
        ("bob", datetime(2026, 3, 4, 9), datetime(2026, 3, 7, 9)),
        ("ann", datetime(2026, 3, 7, 9), datetime(2026, 3, 10, 9)),  # 71 real hours: DST starts Mar 8
        ("bob", datetime(2026, 3, 10, 9), datetime(2026, 3, 13, 9)),
    ]
    assert shifts[2].end - shifts[2].start == timedelta(hours=71)


def test_first_shift_runs_from_start_to_the_next_handoff() -> None:
    layer = Layer(rotation("ann bob", utc(2026, 1, 1, 20), 1, Unit.DAYS))
    shifts = layer_shifts(layer, UTC_ZONE, utc(2026, 1, 1), utc(2026, 1, 3))
    assert turns(shifts) == [
        ("ann", datetime(2026, 1, 1, 20), datetime(2026, 1, 2, 9)),
        ("bob", datetime(2026, 1, 2, 9), datetime(2026, 1, 3)),
    ]


def test_weekday_business_hours_restriction() -> None:
    layer = Layer(rotation("ann bob", local(BERLIN, 2026, 1, 5, 9)), Restriction.weekdays(time(9), time(17)))
    shifts = layer_shifts(layer, BERLIN, local(BERLIN, 2026, 1, 5), local(BERLIN, 2026, 1, 12))
    business_hours = [(datetime(2026, 1, day, 9), datetime(2026, 1, day, 17)) for day in range(5, 10)]
    assert turns(shifts, BERLIN) == [("ann", *hours) for hours in business_hours]
    schedule = Schedule(BERLIN, (layer,))
    assert final_shifts(schedule, local(BERLIN, 2026, 1, 5), local(BERLIN, 2026, 1, 12)) == shifts  # gaps stay gaps
    assert on_call(schedule, local(BERLIN, 2026, 1, 7, 12)) == ["ann"]
    assert on_call(schedule, local(BERLIN, 2026, 1, 7, 17)) == []
    assert on_call(schedule, local(BERLIN, 2026, 1, 10, 12)) == []  # Saturday


def test_overnight_window_runs_into_the_next_day() -> None:
    layer = Layer(rotation("ann", utc(2026, 1, 5, 9)), Restriction((Window(4, time(22), time(6)),)))
    shifts = layer_shifts(layer, UTC_ZONE, utc(2026, 1, 5), utc(2026, 1, 12))
    assert turns(shifts) == [("ann", datetime(2026, 1, 9, 22), datetime(2026, 1, 10, 6))]


def test_higher_layer_covers_only_the_weekend() -> None:
    weekend = Restriction((Window(5, time(0), time(0)), Window(6, time(0), time(0))))
    schedule = Schedule(
        UTC_ZONE,
        (
            Layer(rotation("ann bob", utc(2026, 1, 5, 9))),
            Layer(rotation("cy", utc(2026, 1, 5, 9)), weekend, priority=1),
        ),
    )
    assert turns(final_shifts(schedule, utc(2026, 1, 5, 9), utc(2026, 1, 19, 9))) == [
        ("ann", datetime(2026, 1, 5, 9), datetime(2026, 1, 10)),
        ("cy", datetime(2026, 1, 10), datetime(2026, 1, 12)),
        ("ann", datetime(2026, 1, 12), datetime(2026, 1, 12, 9)),
        ("bob", datetime(2026, 1, 12, 9), datetime(2026, 1, 17)),
        ("cy", datetime(2026, 1, 17), datetime(2026, 1, 19)),
        ("bob", datetime(2026, 1, 19), datetime(2026, 1, 19, 9)),
    ]


def test_override_inside_a_shift_splits_it_in_three() -> None:
    schedule = Schedule(
        UTC_ZONE,
        (Layer(rotation("ann bob", utc(2026, 1, 5, 9))),),
        (Override("dee", utc(2026, 1, 7, 18), utc(2026, 1, 8, 8)),),
    )
    assert final_shifts(schedule, utc(2026, 1, 5, 9), utc(2026, 1, 12, 9)) == [
        Shift("ann", utc(2026, 1, 5, 9), utc(2026, 1, 7, 18), 0),
        Shift("dee", utc(2026, 1, 7, 18), utc(2026, 1, 8, 8), OVERRIDE),
        Shift("ann", utc(2026, 1, 8, 8), utc(2026, 1, 12, 9), 0),
    ]


def test_results_are_utc_whatever_zone_the_inputs_are_in() -> None:
    schedule = Schedule(
        BERLIN,
        (Layer(rotation("ann", local(BERLIN, 2026, 1, 5, 9))),),
        (Override("dee", local(BERLIN, 2026, 1, 7, 18), local(BERLIN, 2026, 1, 8, 8)),),
    )
    shifts = final_shifts(schedule, local(BERLIN, 2026, 1, 5), local(BERLIN, 2026, 1, 9))
    assert [s.start for s in shifts] == [utc(2026, 1, 5, 8), utc(2026, 1, 7, 17), utc(2026, 1, 8, 7)]
    assert all(at.tzinfo is UTC for s in shifts for at in (s.start, s.end))


def test_on_call_boundaries_start_inclusive_end_exclusive() -> None:
    schedule = Schedule(UTC_ZONE, (Layer(rotation("ann bob", utc(2026, 1, 5, 9))),))
    handoff = utc(2026, 1, 12, 9)
    assert on_call(schedule, handoff - timedelta(microseconds=1)) == ["ann"]
    assert on_call(schedule, handoff) == ["bob"]
    assert on_call(schedule, utc(2026, 1, 5, 9)) == ["ann"]
    assert on_call(schedule, utc(2026, 1, 5, 9) - timedelta(microseconds=1)) == []  # before the rotation starts
    assert on_call(Schedule(UTC_ZONE), handoff) == []


def test_nonexistent_handoff_moves_to_the_jump_and_ambiguous_is_the_first() -> None:
    layer = Layer(rotation("ann bob", local(NEW_YORK, 2026, 3, 7, 2, 30), 1, Unit.DAYS, time(2, 30)))
    shifts = layer_shifts(layer, NEW_YORK, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    assert [s.start for s in shifts[1:]] == [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]  # 03:00 EDT, then 02:30 EDT
    layer = Layer(rotation("ann bob", local(NEW_YORK, 2026, 10, 31, 1, 30), 1, Unit.DAYS, time(1, 30)))
    shifts = layer_shifts(layer, NEW_YORK, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))
    assert shifts[1].start == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, before the clocks go back


def test_rejects_naive_times_and_empty_rotations() -> None:
    with pytest.raises(ValueError):
        Rotation((), utc(2026, 1, 1), 1, Unit.DAYS)
    with pytest.raises(ValueError):
        Rotation(("ann",), datetime(2026, 1, 1), 1, Unit.DAYS)
    with pytest.raises(ValueError):
        Override("ann", utc(2026, 1, 2), utc(2026, 1, 1))


# -- properties ------------------------------------------------------------------------

ZONES = [UTC_ZONE, NEW_YORK, BERLIN, SYDNEY]
BASE = utc(2026, 1, 1)
SPAN_MINUTES = 120 * 24 * 60
PROPERTY = settings(max_examples=100, deadline=None)

instants = st.integers(0, SPAN_MINUTES).map(lambda m: BASE + timedelta(minutes=m))
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
users = st.sampled_from(["ann", "bob", "cy", "dee"])
rotations = st.builds(
    Rotation,
    participants=st.lists(users, min_size=1, max_size=4).map(tuple),
    start=instants,
    shift_length=st.integers(1, 4),
    unit=st.sampled_from(Unit),
    handoff=times,
)
weekly_windows = st.builds(Window, st.integers(0, 6), times, times)
restrictions = st.builds(Restriction, st.lists(weekly_windows, min_size=1, max_size=4).map(tuple))
layers = st.builds(Layer, rotations, st.none() | restrictions, st.integers(0, 2))


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    start = draw(instants)
    return Override(draw(users), start, start + timedelta(minutes=draw(st.integers(1, 5 * 24 * 60))))


schedules = st.builds(
    Schedule,
    st.sampled_from(ZONES),
    st.lists(layers, min_size=1, max_size=3).map(tuple),
    st.lists(overrides(), max_size=3).map(tuple),
)


@st.composite
def windows(draw: st.DrawFn, pieces: int = 2) -> list[datetime]:
    return sorted(draw(st.lists(instants, min_size=pieces + 1, max_size=pieces + 1, unique=True)))


@PROPERTY
@given(layers, st.sampled_from(ZONES), windows(1))
def test_layer_shifts_never_overlap_and_leave_no_gaps_without_restrictions(
    layer: Layer, tz: ZoneInfo, window: list[datetime]
) -> None:
    start, end = window
    shifts = layer_shifts(layer, tz, start, end)
    assert all(s.start < s.end for s in shifts)
    assert all(a.end <= b.start for a, b in zip(shifts, shifts[1:]))
    assert all(start <= s.start and s.end <= end for s in shifts)
    if layer.restriction is None and layer.rotation.start < end:
        covered_from = max(start, layer.rotation.start)
        assert [s.start for s in shifts] == [covered_from] + [s.end for s in shifts[:-1]]
        assert shifts[-1].end == end


@PROPERTY
@given(schedules, st.data())
def test_overrides_win(schedule: Schedule, data: st.DataObject) -> None:
    if not schedule.overrides:
        schedule = Schedule(schedule.tz, schedule.layers, (data.draw(overrides()),))
    chosen = data.draw(st.sampled_from(schedule.overrides))
    at = chosen.start + (chosen.end - chosen.start) * data.draw(st.floats(0, 1, exclude_max=True))
    at = min(at, chosen.end - timedelta(microseconds=1))
    latest = [o.user_id for o in schedule.overrides if o.start <= at < o.end][-1]
    assert on_call(schedule, at) == [latest]


@PROPERTY
@given(schedules, windows(2))
def test_final_shifts_do_not_depend_on_where_the_window_is_cut(schedule: Schedule, window: list[datetime]) -> None:
    a, b, c = window
    whole = final_shifts(schedule, a, c)
    assert whole == merge_adjacent(final_shifts(schedule, a, b) + final_shifts(schedule, b, c))
    assert all(x.end <= y.start for x, y in zip(whole, whole[1:]))


@PROPERTY
@given(schedules, instants)
def test_on_call_agrees_with_the_timeline(schedule: Schedule, at: datetime) -> None:
    around = final_shifts(schedule, at - timedelta(days=8), at + timedelta(days=8))
    assert on_call(schedule, at) == [s.user_id for s in around if s.start <= at < s.end]


def reference_timeline(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The timeline the module docstring describes, computed the plain way: between every two
    instants where something starts or ends, ask each override, latest first, then each
    layer by priority (the later on a tie), who covers that instant."""
    layer_order = sorted(range(len(schedule.layers)), key=lambda i: (schedule.layers[i].priority, i), reverse=True)
    tracks = {i: layer_shifts(schedule.layers[i], schedule.tz, start, end, source=i) for i in layer_order}
    cuts = {start, end} | {at for o in schedule.overrides for at in (o.start, o.end) if start < at < end}
    cuts |= {at for track in tracks.values() for s in track for at in (s.start, s.end)}
    pieces = []
    for begin, finish in zip(sorted(cuts), sorted(cuts)[1:]):
        covering = [(i, o) for i, o in enumerate(schedule.overrides) if o.start <= begin < o.end]
        if covering:
            index, override = covering[-1]
            pieces.append(Shift(override.user_id, begin, finish, OVERRIDE, index))
            continue
        for i in layer_order:
            found = [s for s in tracks[i] if s.start <= begin < s.end]
            if found:
                pieces.append(Shift(found[0].user_id, begin, finish, i))
                break
    return merge_adjacent(pieces)


def with_override_index(shifts: list[Shift]) -> list[tuple[str, datetime, datetime, int | str, int | None]]:
    return [(s.user_id, s.start, s.end, s.source, s.override) for s in shifts]


crowded_schedules = st.builds(
    Schedule,
    st.sampled_from(ZONES),
    st.lists(layers, max_size=3).map(tuple),
    st.lists(overrides(), max_size=25).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(crowded_schedules, windows(1))
def test_the_sweep_gives_the_timeline_of_the_plain_definition(schedule: Schedule, window: list[datetime]) -> None:
    start, end = window
    assert with_override_index(final_shifts(schedule, start, end)) == with_override_index(
        reference_timeline(schedule, start, end))


def test_many_overlapping_overrides_take_one_sweep() -> None:
    """Ten thousand overrides, each covering the next one's start: the latest wins everywhere
    it is in force. (Asking every override at every instant took minutes here.)"""
    start = utc(2026, 3, 1)
    overrides = tuple(Override(f"u{i}", start + i * timedelta(minutes=1), start + (i + 2) * timedelta(minutes=1))
                      for i in range(10_000))
    schedule = Schedule(UTC_ZONE, (Layer(rotation("ann", utc(2026, 1, 1))),), overrides)
    timeline = final_shifts(schedule, start, start + timedelta(days=10))
    assert [s.user_id for s in timeline[:3]] == ["u0", "u1", "u2"]
    assert (timeline[-2].user_id, timeline[-1].user_id) == ("u9999", "ann")
    assert [s.override for s in timeline[:-1]] == list(range(10_000))


@pytest.mark.parametrize("tz", [NEW_YORK, BERLIN, SYDNEY], ids=str)
@settings(max_examples=30, deadline=None)
@given(
    day=st.integers(0, 364),
    minute=st.integers(0, 24 * 60 - 1),
    people=st.lists(users, min_size=2, max_size=3, unique=True),
)
def test_daily_handoffs_stay_at_nine_local_through_2027(
    tz: ZoneInfo, day: int, minute: int, people: list[str]
) -> None:
    start = datetime.combine(date(2026, 1, 1) + timedelta(days=day), time(minute // 60, minute % 60), tzinfo=tz)
    layer = Layer(Rotation(tuple(people), start, 1, Unit.DAYS, NINE))
    shifts = layer_shifts(layer, tz, utc(2026, 1, 1), utc(2028, 1, 1))
    handoffs = [s.start for s in shifts[1:]]
    assert handoffs == [s.end for s in shifts[:-1]]
    assert all(h.astimezone(tz).time() == NINE for h in handoffs)
    assert {h.astimezone(tz).date() for h in handoffs} >= {date(2027, 1, 1) + timedelta(days=n) for n in range(365)}


# -- DST transitions, 2026-2027 --------------------------------------------------------

DST_ZONES = [NEW_YORK, BERLIN, SYDNEY]


def transitions(tz: ZoneInfo, start: datetime = utc(2026, 1, 1), end: datetime = utc(2028, 1, 1)) -> list[datetime]:
    """The instants in [start, end) at which `tz` changes its UTC offset."""
    def offset(at: datetime) -> timedelta | None:
        return at.astimezone(tz).utcoffset()

    found, at = [], start
    while at < end:
        low, high = at, at + timedelta(hours=1)
        if offset(low) != offset(high):
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            found.append(high)
        at += timedelta(hours=1)
    return found


def exists(day: date, at: time, tz: ZoneInfo) -> bool:
    """Whether the wall time happens on that day (it does not in a spring-forward gap)."""
    local = datetime.combine(day, at, tzinfo=tz)
    return local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None)


DST_TRANSITIONS = [(tz, moment) for tz in DST_ZONES for moment in transitions(tz)]


def test_each_zone_changes_its_clocks_twice_a_year() -> None:
    assert [(str(tz), len(transitions(tz))) for tz in DST_ZONES] == [(str(tz), 4) for tz in DST_ZONES]
    assert [t.date() for t in transitions(NEW_YORK)] == [
        date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 14), date(2027, 11, 7)
    ]


@pytest.mark.parametrize(("tz", "transition"), DST_TRANSITIONS, ids=[f"{tz}-{t:%Y-%m-%d}" for tz, t in DST_TRANSITIONS])
@pytest.mark.parametrize("unit", [Unit.DAYS, Unit.WEEKS])
def test_no_transition_moves_a_handoff_off_nine_local(tz: ZoneInfo, transition: datetime, unit: Unit) -> None:
    around = transition.astimezone(tz).date()
    start = datetime.combine(around - timedelta(days=17), NINE, tzinfo=tz)
    layer = Layer(Rotation(("ann", "bob"), start, 1, unit, NINE))
    shifts = layer_shifts(layer, tz, transition - timedelta(days=15), transition + timedelta(days=15))
    handoffs = [s.start for s in shifts[1:]]
    assert handoffs and all(h.astimezone(tz).time() == NINE for h in handoffs)
    across = next(s for s in shifts if s.start < transition < s.end)
    jump = transition.astimezone(tz).utcoffset() - (transition - timedelta(minutes=1)).astimezone(tz).utcoffset()
    assert across.end - across.start == timedelta(**{unit.value: 1}) - jump


@pytest.mark.parametrize("tz", DST_ZONES, ids=str)
@settings(max_examples=40, deadline=None)
@given(
    day=st.integers(0, 729),
    handoff=st.builds(time, st.integers(4, 23), st.integers(0, 59)),
    length=st.integers(1, 3),
    unit=st.sampled_from([Unit.DAYS, Unit.WEEKS]),
)
def test_day_and_week_handoffs_keep_their_wall_time_through_2027(
    tz: ZoneInfo, day: int, handoff: time, length: int, unit: Unit
) -> None:
    start = datetime.combine(date(2026, 1, 1) + timedelta(days=day), time(0), tzinfo=tz)
    layer = Layer(Rotation(("ann", "bob", "cy"), start, length, unit, handoff))
    shifts = layer_shifts(layer, tz, start, utc(2028, 1, 1))
    handoffs = [s.start.astimezone(tz) for s in shifts[1:]]
    assert all(h.time() == handoff for h in handoffs)
    step = timedelta(**{unit.value: length})
    assert all(b.date() - a.date() == step for a, b in zip(handoffs, handoffs[1:]))
    assert [s.user_id for s in shifts] == [("ann", "bob", "cy")[k % 3] for k in range(len(shifts))]


@pytest.mark.parametrize("tz", DST_ZONES, ids=str)
@settings(max_examples=40, deadline=None)
@given(handoff=st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])), days=st.integers(1, 2))
@example(handoff=time(2, 30), days=1)
def test_handoffs_in_the_small_hours_follow_the_wall_time_rules(tz: ZoneInfo, handoff: time, days: int) -> None:
    """At a transition a handoff at an ambiguous wall time is its first occurrence, one at a
    wall time that does not exist is when the clocks jump; on every other day it is on time."""
    layer = Layer(Rotation(("ann", "bob"), datetime(2026, 1, 1, tzinfo=tz), days, Unit.DAYS, handoff))
    shifts = layer_shifts(layer, tz, utc(2026, 1, 2), utc(2028, 1, 1))
    jumps = set(transitions(tz))
    for shift in shifts[1:]:
        local = shift.start.astimezone(tz)
        if exists(local.date(), handoff, tz):
            assert local.time() == handoff
            earlier = (shift.start - timedelta(hours=1)).astimezone(tz)
            assert (earlier.date(), earlier.time()) != (local.date(), handoff)  # the first occurrence
        else:
            assert shift.start in jumps
