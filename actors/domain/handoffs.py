"""Shift handoffs: which notices people get about their on-call shifts, and which
reachability checks a schedule asks for.

Pure: the schedule, the people's preferences and the instant come in; what should be sent,
and when, goes out. The monitor (actors/shift_notices.py) keeps the outbox in step with it.

- A *turn* is a stretch during which one person is on call without a break, whatever puts
  them there: a layer handing over to an override of the same person is one turn, so
  nobody is told their shift "ended" and "started" in the same instant.
- A turn's start or end is a handoff only where it is seen to change: the timeline is
  computed over a window wider than the notices planned, and a turn cut by that window's
  edge has no handoff there.
- Notices: `upcoming` a lead time before a turn starts (per person; none when the lead is
  zero, or when it would reach them under a minute before the start), `started` when it
  starts, `ended` when it ends. Each is keyed by (person, kind, the handoff's instant), so
  planning again yields the same keys for what still holds.
- Checks: a schedule may ask each incoming person to confirm they can be reached a lead
  time before their turn (at once when that time has passed and the turn is still ahead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from tocsin.actors.domain.clock import as_utc
from tocsin.actors.domain.escalation_state import Policy, Target, TargetKind
from tocsin.actors.domain.schedule import Schedule, Shift, final_shifts

EDGE = timedelta(minutes=1)  # before the planned window, so that a handoff at its edge is seen
LOOKAHEAD = timedelta(days=8)  # past it, so that a weekly shift starting says when it ends
SHORTEST_NOTICE = timedelta(minutes=1)  # an advance notice closer to the start than this is left out


class NoticeKind(str, Enum):
    UPCOMING = "upcoming"
    STARTED = "started"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Preference:
    """How a person wants to hear of their shifts: `lead` before a shift starts (zero: no
    advance notice), with times in `tz`."""

    lead: timedelta
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Turn:
    """`user_id` on call without a break over [start, end). `starts`/`ends`: whether that
    bound is a handoff, rather than the edge of the window looked at."""

    user_id: str
    start: datetime
    end: datetime
    starts: bool
    ends: bool


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to `user_id` about the handoff at `at` (its turn's start, or end for
    ENDED), due at `due`; `send_at` is when it goes (`due`, or now when that has passed)."""

    user_id: str
    kind: NoticeKind
    at: datetime
    due: datetime
    send_at: datetime
    text: str

    @property
    def key(self) -> tuple[str, str, datetime]:
        return self.user_id, self.kind.value, self.at


@dataclass(frozen=True, slots=True)
class Check:
    """Ask `user_id` to confirm they can be reached before their turn at `shift_start`."""

    user_id: str
    shift_start: datetime
    due: datetime
    send_at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """What should be sent from now on, and the keys of every handoff that holds in the
    window looked at: a planned notice or check whose key is not among them no longer holds."""

    notices: tuple[Notice, ...]
    checks: tuple[Check, ...]
    notice_keys: frozenset[tuple[str, str, datetime]]
    check_keys: frozenset[tuple[str, datetime]]


def turns(schedule: Schedule, start: datetime, end: datetime) -> list[Turn]:
    """The schedule's turns over [start, end), in order."""
    start, end = as_utc(start), as_utc(end)
    found: list[Turn] = []
    for shift in final_shifts(schedule, start, end):
        last = found[-1] if found else None
        if last is not None and (last.user_id, last.end) == (shift.user_id, shift.start):
            found[-1] = Turn(last.user_id, last.start, shift.end, last.starts, shift.end < end)
        else:
            found.append(_turn(shift, start, end))
    return found


def _turn(shift: Shift, start: datetime, end: datetime) -> Turn:
    return Turn(shift.user_id, shift.start, shift.end, shift.start > start, shift.end < end)


def plan(
    schedule: Schedule, name: str, people: Mapping[str, Preference], now: datetime, horizon: timedelta,
    grace: timedelta, check_lead: timedelta | None = None,
) -> Plan:
    """Notices due in [now - grace, now + horizon) for the `people` who want them, and, with
    a `check_lead`, the checks of the turns starting after now whose check falls due before
    now + horizon. `name` is the schedule's, for the messages."""
    now = as_utc(now)
    longest = max([p.lead for p in people.values()] + [check_lead or timedelta(0)])
    window = turns(schedule, now - grace - EDGE, now + horizon + longest + LOOKAHEAD)
    notices: list[Notice] = []
    notice_keys: set[tuple[str, str, datetime]] = set()
    for turn in window:
        preference = people.get(turn.user_id)
        if preference is None:
            continue
        for notice in _notices(turn, name, preference, now):
            notice_keys.add(notice.key)
            if now - grace <= notice.send_at < now + horizon:
                notices.append(notice)
    checks = [c for c in _checks(window, check_lead, now) if c.send_at < now + horizon] if check_lead else []
    check_keys = {(turn.user_id, turn.start) for turn in window if turn.starts and check_lead is not None}
    return Plan(tuple(notices), tuple(checks), frozenset(notice_keys), frozenset(check_keys))


def _notices(turn: Turn, name: str, preference: Preference, now: datetime) -> Iterable[Notice]:
    tz = preference.tz
    if turn.starts:
        if preference.lead > timedelta(0):
            due = turn.start - preference.lead
            send_at = max(due, now)
            if turn.start - send_at >= SHORTEST_NOTICE:
                ahead = _duration(turn.start - send_at)
                text = f"Your on-call shift for {name} starts at {_when(turn.start, tz, send_at)} (in {ahead})."
                yield Notice(turn.user_id, NoticeKind.UPCOMING, turn.start, due, send_at, text)
        text = f"Your on-call shift for {name} starts now"
        text += f", until {_when(turn.end, tz, turn.start)}." if turn.ends else "."
        yield Notice(turn.user_id, NoticeKind.STARTED, turn.start, turn.start, turn.start, text)
    if turn.ends:
        text = f"Your on-call shift for {name} ended at {_when(turn.end, tz, turn.end)}."
        yield Notice(turn.user_id, NoticeKind.ENDED, turn.end, turn.end, turn.end, text)


def _checks(window: Sequence[Turn], lead: timedelta, now: datetime) -> Iterable[Check]:
    for turn in window:
        if turn.starts and turn.start > now:
            due = turn.start - lead
            yield Check(turn.user_id, turn.start, due, max(due, now))


# -- words -----------------------------------------------------------------------------------


def check_text(name: str, shift_start: datetime, tz: ZoneInfo, sent_at: datetime, link: str) -> str:
    return (f"Reachability check: your on-call shift for {name} starts at {_when(shift_start, tz, sent_at)}."
            f" Confirm you can be reached before then: {link}")


def missed_text(person: str, name: str, shift_start: datetime, tz: ZoneInfo) -> str:
    return (f"{person} did not confirm the reachability check for their on-call shift for {name},"
            f" which started at {_when(shift_start, tz, shift_start)}.")


def _when(at: datetime, tz: ZoneInfo, seen_from: datetime) -> str:
    """A wall-clock time in `tz`, with its date when that is not the day of `seen_from`."""
    local, reference = at.astimezone(tz), seen_from.astimezone(tz)
    shown = f"{local:%H:%M}" if local.date() == reference.date() else f"{local:%a %d %b %H:%M}"
    return f"{shown} {tz.key}"


def _duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


# -- who is told of a missed check ------------------------------------------------------------


def next_level_targets(policy: Policy, schedule_id: str) -> list[Target]:
    """The targets of the level after each level of `policy` that pages `schedule_id`: whom
    the policy would page next if the schedule's person did not answer. The last level
    has none after it (a policy that repeats starts again from its first)."""
    levels = policy.levels
    found: list[Target] = []
    for index, level in enumerate(levels):
        if Target(TargetKind.SCHEDULE, schedule_id) not in level.targets:
            continue
        following = index + 1 if index + 1 < len(levels) else (0 if policy.repeat else None)
        if following is not None and following != index:
            found += [t for t in levels[following].targets if t not in found]
    return found
