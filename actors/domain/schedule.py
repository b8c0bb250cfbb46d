"""On-call schedules: who is on call when, from rotations, restrictions and overrides.

Pure: every instant is an argument and time zones come in as `ZoneInfo` objects, so nothing
here reads the clock or the tz database. Results are UTC. GoAlert / PagerDuty semantics:

- A rotation hands off at a wall-clock time in the schedule's zone, so a daily 09:00 handoff
  stays at 09:00 local across DST. Hour-based rotations count real elapsed hours instead.
- Wall times at DST transitions (handoffs, restriction windows): an ambiguous time (clocks go
  back) is its first occurrence, fold=0; a nonexistent time (clocks go forward) moves forward
  to the instant the clocks jump, so 02:30 on a spring-forward night is 03:00 local.
- A layer with a higher priority covers lower ones wherever it has someone; between equal
  priorities the later layer wins. Overrides win over every layer, a later override over an
  earlier one. Where nobody is on call the timeline has a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from heapq import heappop, heappush
from zoneinfo import ZoneInfo
from tocsin.actors.domain.clock import as_utc, require_aware

OVERRIDE = "override"

_Span = tuple[datetime, datetime]
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


class Unit(str, Enum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"


@dataclass(frozen=True, slots=True)
class Rotation:
    """Participants take turns in order from `start`. Handoffs fall on a grid of
    `shift_length` `unit`s anchored at `handoff` on the local day of `start`; the first shift
    runs from `start` to the next handoff, so it is short when `start` is off the grid."""

    participants: tuple[str, ...]
    start: datetime
    shift_length: int
    unit: Unit
    handoff: time = time(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "participants", tuple(self.participants))
        if not self.participants:
            raise ValueError("a rotation needs at least one participant")
        if self.shift_length < 1:
            raise ValueError("shift_length must be positive")
        if self.handoff.tzinfo is not None:
            raise ValueError("handoff is a wall-clock time in the schedule's zone")
        require_aware(self.start)


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly window in the schedule's zone, from `start` on `day` (0 = Monday) to `end`.
    An `end` at or before `start` falls on the next day: 22:00-06:00 is overnight and
    00:00-00:00 the whole day."""

    day: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.day <= 6:
            raise ValueError("day is 0 (Monday) to 6 (Sunday)")


@dataclass(frozen=True, slots=True)
class Restriction:
    """The weekly windows in which a layer has someone on call; outside them it has nobody."""

    windows: tuple[Window, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))

    @classmethod
    def weekdays(cls, start: time, end: time) -> Restriction:
        return cls(tuple(Window(day, start, end) for day in range(5)))


@dataclass(frozen=True, slots=True)
class Layer:
    rotation: Rotation
    restriction: Restriction | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Override:
    """`user_id` is on call for the whole schedule during [start, end)."""

    user_id: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_aware(self.start)
        require_aware(self.end)
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")


@dataclass(frozen=True, slots=True)
class Schedule:
    tz: ZoneInfo
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))


@dataclass(frozen=True, slots=True)
class Shift:
    """`user_id` on call during [start, end), in UTC. `source` is the index of the layer in
    `Schedule.layers`, or OVERRIDE; then `override` is the index in `Schedule.overrides` of
    the override in force at `start` (it takes no part in equality)."""

    user_id: str
    start: datetime
    end: datetime
    source: int | str
    override: int | None = field(default=None, compare=False)


# -- wall time -------------------------------------------------------------------------


def _wall_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    local = datetime.combine(day, at, tzinfo=tz)  # fold=0: an ambiguous time is its first occurrence
    instant = local.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    return _jump(local.replace(fold=1).astimezone(timezone.utc), instant, tz)


def _jump(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The instant clocks jumped over a nonexistent wall time. fold=1 and fold=0 read it with
    the offsets from after and before the jump, which land on either side of it; zoneinfo
    does not expose transitions, so bisect for it (transitions are whole seconds)."""
    offset_after = after.astimezone(tz).utcoffset()
    while after - before > _SECOND:
        middle = before + (after - before) / 2
        if middle.astimezone(tz).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0)


# -- one layer -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Grid:
    """A rotation's handoff instants, numbered: handoff 0 is at the handoff time on the
    local day the rotation starts."""

    rotation: Rotation
    tz: ZoneInfo
    day: date
    step: timedelta
    anchor: datetime

    @classmethod
    def of(cls, rotation: Rotation, tz: ZoneInfo) -> _Grid:
        day = rotation.start.astimezone(tz).date()
        step = timedelta(**{rotation.unit.value: rotation.shift_length})
        return cls(rotation, tz, day, step, _wall_to_utc(day, rotation.handoff, tz))

    def at(self, k: int) -> datetime:
        if self.rotation.unit is Unit.HOURS:
            return self.anchor + k * self.step
        return _wall_to_utc(self.day + k * self.step, self.rotation.handoff, self.tz)

    def index(self, at: datetime) -> int:
        """The number of the last handoff at or before `at`."""
        if self.rotation.unit is Unit.HOURS:
            return (at - self.anchor) // self.step
        k = (at.astimezone(self.tz).date() - self.day) // self.step
        while self.at(k) > at:
            k -= 1
        while self.at(k + 1) <= at:
            k += 1
        return k


def _rotation_shifts(
    rotation: Rotation, tz: ZoneInfo, start: datetime, end: datetime, source: int
) -> Iterator[Shift]:
    grid, opening = _Grid.of(rotation, tz), as_utc(rotation.start)
    first = grid.index(opening)  # its shift belongs to participant 0, from the rotation's start
    k = max(first, grid.index(start))
    begin, people = grid.at(k), rotation.participants
    while begin < end:
        finish = grid.at(k + 1)
        clipped = max(begin, opening, start), min(finish, end)
        if clipped[0] < clipped[1]:
            yield Shift(people[(k - first) % len(people)], *clipped, source)
        k, begin = k + 1, finish


def _windows(restriction: Restriction, tz: ZoneInfo, start: datetime, end: datetime) -> list[_Span]:
    """The restriction's windows as sorted, disjoint UTC spans clipped to [start, end)."""
    spans = []
    day, last = start.astimezone(tz).date() - _DAY, end.astimezone(tz).date()  # the day before may run past midnight
    while day <= last:
        for window in restriction.windows:
            if window.day == day.weekday():
                end_day = day + _DAY if window.end <= window.start else day
                begin, finish = _wall_to_utc(day, window.start, tz), _wall_to_utc(end_day, window.end, tz)
                if max(begin, start) < min(finish, end):
                    spans.append((max(begin, start), min(finish, end)))
        day += _DAY
    return _union(sorted(spans))


def _union(spans: list[_Span]) -> list[_Span]:
    joined: list[_Span] = []
    for begin, finish in spans:
        if joined and begin <= joined[-1][1]:
            joined[-1] = joined[-1][0], max(finish, joined[-1][1])
        else:
            joined.append((begin, finish))
    return joined


def _restrict(shifts: Iterable[Shift], spans: list[_Span]) -> Iterator[Shift]:
    first = 0
    for shift in shifts:
        while first < len(spans) and spans[first][1] <= shift.start:
            first += 1
        i = first
        while i < len(spans) and spans[i][0] < shift.end:
            begin, finish = spans[i]
            yield replace(shift, start=max(begin, shift.start), end=min(finish, shift.end))
            i += 1


def layer_shifts(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime, *, source: int = 0) -> list[Shift]:
    """The layer's shifts clipped to [start, end), one per rotation turn (cut where a
    restriction is), tagged with `source` (the layer's index in its schedule)."""
    start, end = as_utc(start), as_utc(end)
    shifts = _rotation_shifts(layer.rotation, tz, start, end, source)
    if layer.restriction is not None:
        shifts = _restrict(shifts, _windows(layer.restriction, tz, start, end))
    return list(shifts)


# -- the whole schedule ----------------------------------------------------------------


def merge_adjacent(shifts: Iterable[Shift]) -> list[Shift]:
    """Joins a shift onto the one before when it continues it: same user, same source."""
    merged: list[Shift] = []
    for shift in shifts:
        last = merged[-1] if merged else None
        if last is not None and (last.end, last.user_id, last.source) == (shift.start, shift.user_id, shift.source):
            merged[-1] = replace(last, end=shift.end)
        else:
            merged.append(shift)
    return merged


def _ranked(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[int, Shift]]:
    """Every shift that could be on call in [start, end), with its rank: the lowest rank in
    force wins. Overrides come first, the later the better; then the layers, by priority,
    the later on a tie. Shifts of one rank never overlap."""
    count = len(schedule.overrides)
    ranked = [
        (count - 1 - index, Shift(o.user_id, max(as_utc(o.start), start), min(as_utc(o.end), end), OVERRIDE, index))
        for index, o in enumerate(schedule.overrides)
        if o.start < end and o.end > start
    ]
    layers = sorted(enumerate(schedule.layers), key=lambda pair: (pair[1].priority, pair[0]), reverse=True)
    for rank, (index, layer) in enumerate(layers, start=count):
        ranked += [(rank, shift) for shift in layer_shifts(layer, schedule.tz, start, end, source=index)]
    return ranked


def _sweep(ranked: list[tuple[int, Shift]]) -> Iterator[Shift]:
    """The timeline in one pass over the instants where some shift starts or ends, in order:
    the shifts begun so far wait in a heap by rank, and one that has ended leaves when it
    reaches the top. So the work is O(n log n) in the shifts, however many overrides there
    are, where asking every override at every instant was O(n x overrides)."""
    by_start = sorted(ranked, key=lambda pair: pair[1].start)
    cuts = sorted({at for _, shift in ranked for at in (shift.start, shift.end)})
    begun: list[tuple[int, int, Shift]] = []  # (rank, order begun): ties never compare shifts
    taken = 0
    for begin, finish in zip(cuts, cuts[1:]):
        while taken < len(by_start) and by_start[taken][1].start <= begin:
            heappush(begun, (by_start[taken][0], taken, by_start[taken][1]))
            taken += 1
        while begun and begun[0][2].end <= begin:
            heappop(begun)
        if begun:
            yield replace(begun[0][2], start=begin, end=finish)


def final_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The schedule's timeline over [start, end): who is on call, with gaps where nobody is."""
    start, end = as_utc(start), as_utc(end)
    return merge_adjacent(_sweep(_ranked(schedule, start, end)))


def on_call(schedule: Schedule, at: datetime) -> list[str]:
    """Who is on call at an instant; empty when nobody is."""
    return [shift.user_id for shift in final_shifts(schedule, at, at + timedelta(microseconds=1))]
