"""An escalation policy and the state of a walk through it: which level to page, and when
(GoAlert / PagerDuty semantics). incident_escalation.py applies it to incidents.

Pure: `now` is always an argument and every function returns `(new_state, pages)`; the caller
delivers the pages and stores the state. Instants are normalised to UTC.

- A walk visits the positions (level, pass) in order: every level of pass 0, then every level
  of pass 1, ... up to pass `policy.repeat`. `walk_order` lists them.
- Paging a level sets `next_escalation_at` to its deadline, `delay_minutes` later. Paging the
  final position sets it to None: nothing is left to escalate to, the walk is finished.
- `tick` pages every position whose deadline has passed, each at its own deadline, so a tick
  that comes late (after an outage) catches up in order and a second tick pages nothing new:
  within one walk no (level, pass) is paged twice by `tick`.
- Acknowledge and resolve stop the walk. Resolve is final; an acknowledged incident can be
  re-opened by a manual `escalate` or by a snooze expiring.
- Snooze stops paging until `snoozed_until`. The first `tick` at or after it re-triggers the
  incident on a *fresh walk*: level 0, pass 0, paged at `snoozed_until` (then catching up like
  any late tick). Positions paged before the snooze may be paged again on the fresh walk; that
  is the point of a snooze. Acknowledging or resolving a snoozed incident cancels the snooze.
- Manual `escalate` pages the next position (or `to_level` on the current pass) now and resets
  its deadline, even when acknowledged or snoozed. Past the final position there is no next
  level, so it pages the last level again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from tocsin.actors.domain.clock import as_utc, require_aware


class TargetKind(str, Enum):
    USER = "user"
    SCHEDULE = "schedule"  # resolved to whoever is on call when the page is delivered


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    id: str

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a target needs an id")

    @classmethod
    def user(cls, user_id: str) -> Target:
        return cls(TargetKind.USER, user_id)

    @classmethod
    def schedule(cls, schedule_id: str) -> Target:
        return cls(TargetKind.SCHEDULE, schedule_id)


@dataclass(frozen=True, slots=True)
class Level:
    """Page `targets`, then wait `delay_minutes` for an acknowledgement before the next level."""

    delay_minutes: int
    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        # A zero delay would page the next level in the same instant, which is a
        # misconfiguration rather than an escalation; GoAlert's minimum is one minute too.
        if self.delay_minutes < 1:
            raise ValueError(f"delay_minutes must be at least 1, got {self.delay_minutes}")
        if not self.targets:
            raise ValueError("a level needs at least one target")

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.delay_minutes)


@dataclass(frozen=True, slots=True)
class Policy:
    """`levels` in order; after the last one the whole policy is walked `repeat` more times."""

    levels: tuple[Level, ...]
    repeat: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels:
            raise ValueError("a policy needs at least one level")
        if self.repeat < 0:
            raise ValueError(f"repeat must be 0 or more, got {self.repeat}")


@dataclass(frozen=True, slots=True)
class EscalationState:
    """Where an incident is in its walk: `level` of pass `pass_` was paged last.

    `next_escalation_at` is when the next level is due, None when the walk is finished or
    stopped. `stopped` means acknowledged or resolved (or snoozed, see `snoozed_until`);
    `resolved` means it can never page again."""

    level: int
    pass_: int
    next_escalation_at: datetime | None
    snoozed_until: datetime | None = None
    stopped: bool = False
    resolved: bool = False

    def __post_init__(self) -> None:
        if self.level < 0 or self.pass_ < 0:
            raise ValueError(f"level and pass must be 0 or more, got {self.level}, {self.pass_}")
        for at in (self.next_escalation_at, self.snoozed_until):
            if at is not None:
                require_aware(at)
        if self.resolved and not self.stopped:
            raise ValueError("a resolved walk must be stopped")


@dataclass(frozen=True, slots=True)
class Page:
    """Page `targets` of `level` on pass `pass_`; `at` is when it was due."""

    level: int
    pass_: int
    targets: tuple[Target, ...]
    at: datetime


Result = tuple[EscalationState, list[Page]]


# -- the walk ----------------------------------------------------------------------------


def start(policy: Policy, now: datetime) -> Result:
    """A new incident: page level 0 at once."""
    return _page(policy, 0, 0, as_utc(now))


def tick(state: EscalationState, policy: Policy, now: datetime) -> Result:
    """Page every position whose deadline is at or before `now`, in order, each once."""
    now = as_utc(now)
    _check_position(state, policy)
    pages: list[Page] = []
    if state.snoozed_until is not None:
        if now < state.snoozed_until:
            return state, []
        state, pages = _page(policy, 0, 0, state.snoozed_until)  # a fresh walk
    # Bounded: each round advances the position, and the walk has finitely many.
    while not state.stopped and state.next_escalation_at is not None:
        if state.next_escalation_at > now:
            break
        position = _next_position(policy, state.level, state.pass_)
        if position is None:  # only reachable for a state built by hand; nothing left
            return replace(state, next_escalation_at=None), pages
        state, paged = _page(policy, *position, state.next_escalation_at)
        pages += paged
    return state, pages


def acknowledge(state: EscalationState, now: datetime) -> Result:
    """Someone is on it: no more pages until a manual escalation or a snooze expires."""
    as_utc(now)
    if state.resolved:
        return state, []
    return replace(state, stopped=True, next_escalation_at=None, snoozed_until=None), []


def resolve(state: EscalationState, now: datetime) -> Result:
    """Final: nothing pages a resolved incident again."""
    as_utc(now)
    stopped = replace(state, stopped=True, resolved=True)
    return replace(stopped, next_escalation_at=None, snoozed_until=None), []


def snooze(state: EscalationState, policy: Policy, now: datetime, minutes: int) -> Result:
    """Stop paging until `now + minutes`; the first tick from then on starts a fresh walk."""
    now = as_utc(now)
    _check_position(state, policy)
    if minutes < 1:
        raise ValueError(f"snooze minutes must be positive, got {minutes}")
    if state.resolved:
        raise ValueError("cannot snooze a resolved incident")
    until = now + timedelta(minutes=minutes)
    return replace(state, stopped=True, next_escalation_at=None, snoozed_until=until), []


def escalate(
    state: EscalationState, policy: Policy, now: datetime, to_level: int | None = None
) -> Result:
    """Page the next position (or `to_level` on the current pass) now, re-opening paging."""
    now = as_utc(now)
    _check_position(state, policy)
    if state.resolved:
        raise ValueError("cannot escalate a resolved incident")
    if to_level is not None:
        if not 0 <= to_level < len(policy.levels):
            last = len(policy.levels) - 1
            raise ValueError(f"to_level {to_level} is out of range: levels are 0..{last}")
        return _page(policy, to_level, state.pass_, now)
    position = _next_position(policy, state.level, state.pass_)
    level, pass_ = position if position is not None else (state.level, state.pass_)
    return _page(policy, level, pass_, now)


def fit(state: EscalationState, policy: Policy) -> EscalationState:
    """The state moved onto the policy as it is now: a policy edited mid-walk may have
    fewer levels or repeats than the position the walk reached, which becomes its last."""
    level = min(state.level, len(policy.levels) - 1)
    pass_ = min(state.pass_, policy.repeat)
    return state if (level, pass_) == (state.level, state.pass_) else replace(state, level=level, pass_=pass_)


def walk_order(policy: Policy) -> list[tuple[int, int]]:
    """Every (level, pass) of a full walk, in the order they are paged."""
    return [(level, p) for p in range(policy.repeat + 1) for level in range(len(policy.levels))]


# -- helpers -----------------------------------------------------------------------------


def _page(policy: Policy, level: int, pass_: int, at: datetime) -> Result:
    """The state after paging (level, pass_) at `at`, and that page."""
    final = _next_position(policy, level, pass_) is None
    lvl = policy.levels[level]
    state = EscalationState(level, pass_, None if final else at + lvl.delay)
    return state, [Page(level, pass_, lvl.targets, at)]


def _next_position(policy: Policy, level: int, pass_: int) -> tuple[int, int] | None:
    if level + 1 < len(policy.levels):
        return level + 1, pass_
    if pass_ < policy.repeat:
        return 0, pass_ + 1
    return None


def _check_position(state: EscalationState, policy: Policy) -> None:
    # A state stored under an older version of the policy may point past the current one.
    if state.level >= len(policy.levels):
        raise ValueError(
            f"state is at level {state.level} but the policy has levels 0..{len(policy.levels) - 1}"
        )
    if state.pass_ > policy.repeat:
        raise ValueError(
            f"state is on pass {state.pass_} but the policy repeats {policy.repeat} times"
        )


