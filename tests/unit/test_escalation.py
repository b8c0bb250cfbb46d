"""The escalation walk: levels in order at their delays, repeats, acknowledge, resolve, snooze,
manual escalation and catching up after an outage (GoAlert / PagerDuty semantics)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.domain.escalation_state import (
    EscalationState,
    Level,
    Page,
    Policy,
    Target,
    TargetKind,
    acknowledge,
    escalate,
    resolve,
    snooze,
    start,
    tick,
    walk_order,
)

MINUTE = 60.0
ALICE = Target.user("alice")
BOB = Target.user("bob")
PRIMARY = Target.schedule("primary")

# Level 0 waits 5 minutes, level 1 waits 10, level 2 waits 15.
THREE = Policy((Level(5, (ALICE,)), Level(10, (BOB,)), Level(15, (PRIMARY, ALICE))))


def positions(pages: list[Page]) -> list[tuple[int, int]]:
    return [(p.level, p.pass_) for p in pages]


class Walk:
    """Drives one incident with a FakeClock and collects every page."""

    def __init__(self, policy: Policy = THREE) -> None:
        self.policy = policy
        self.clock = FakeClock()
        self.t0 = self.clock.now()
        self.pages: list[Page] = []
        self.state, pages = start(policy, self.t0)
        self.pages += pages

    def at(self, minutes: float) -> list[Page]:
        """Move the clock to `minutes` after the start and tick."""
        target = self.t0 + timedelta(minutes=minutes)
        self.clock.advance((target - self.clock.now()).total_seconds())
        self.state, pages = tick(self.state, self.policy, self.clock.now())
        self.pages += pages
        return pages

    def minute(self, minutes: float) -> datetime:
        return self.t0 + timedelta(minutes=minutes)


def test_start_pages_level_zero_at_once() -> None:
    walk = Walk()
    assert walk.pages == [Page(0, 0, (ALICE,), walk.t0)]
    assert walk.state.next_escalation_at == walk.minute(5)
    assert not walk.state.stopped


def test_levels_fire_in_order_at_their_delays() -> None:
    walk = Walk()
    assert walk.at(4.99) == []
    assert walk.at(5) == [Page(1, 0, (BOB,), walk.minute(5))]
    assert walk.at(14) == []
    assert walk.at(15) == [Page(2, 0, (PRIMARY, ALICE), walk.minute(15))]
    assert positions(walk.pages) == [(0, 0), (1, 0), (2, 0)]
    # Without repeats the last level is final: nothing left to escalate to.
    assert walk.state.next_escalation_at is None
    assert walk.at(10_000) == []


def test_repeat_walks_the_policy_again_exactly_repeat_times() -> None:
    policy = Policy((Level(5, (ALICE,)), Level(10, (BOB,))), repeat=2)
    walk = Walk(policy)
    for minute in range(0, 200):
        walk.at(minute)
    assert positions(walk.pages) == [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]
    assert [p.at for p in walk.pages] == [walk.minute(m) for m in (0, 5, 15, 20, 30, 35)]
    assert walk.state.next_escalation_at is None


def test_single_level_without_repeat_is_finished_at_start() -> None:
    state, pages = start(Policy((Level(5, (ALICE,)),)), FakeClock().now())
    assert positions(pages) == [(0, 0)]
    assert state.next_escalation_at is None


def test_acknowledge_stops_further_pages() -> None:
    walk = Walk()
    walk.at(5)
    walk.state, pages = acknowledge(walk.state, walk.clock.now())
    assert pages == []
    assert walk.state.stopped and walk.state.next_escalation_at is None
    assert walk.at(1_000) == []
    assert positions(walk.pages) == [(0, 0), (1, 0)]


def test_resolve_stops_for_good() -> None:
    walk = Walk()
    walk.state, pages = resolve(walk.state, walk.minute(1))
    assert pages == [] and walk.state.resolved and walk.state.stopped
    assert walk.at(1_000) == []
    with pytest.raises(ValueError, match="resolved"):
        escalate(walk.state, THREE, walk.minute(2))
    with pytest.raises(ValueError, match="resolved"):
        snooze(walk.state, THREE, walk.minute(2), 10)
    # Acknowledging after resolving changes nothing.
    assert acknowledge(walk.state, walk.minute(3)) == (walk.state, [])


def test_snooze_expiry_repages_level_zero_on_a_fresh_walk() -> None:
    walk = Walk()
    walk.at(5)
    walk.at(15)  # at level 2
    walk.state, _ = acknowledge(walk.state, walk.minute(16))
    walk.state, pages = snooze(walk.state, THREE, walk.minute(16), 30)
    assert pages == [] and walk.state.snoozed_until == walk.minute(46)
    assert walk.at(45.99) == []
    assert walk.at(46) == [Page(0, 0, (ALICE,), walk.minute(46))]
    assert walk.state.snoozed_until is None and not walk.state.stopped
    assert walk.at(51) == [Page(1, 0, (BOB,), walk.minute(51))]


def test_late_tick_after_snooze_pages_from_its_expiry() -> None:
    walk = Walk()
    walk.state, _ = snooze(walk.state, THREE, walk.minute(1), 10)  # until minute 11
    assert walk.at(10) == []
    # Level 0 at 11, level 1 at 16; level 2 is due at 26.
    assert positions(walk.at(20)) == [(0, 0), (1, 0)]
    assert [p.at for p in walk.pages[-2:]] == [walk.minute(11), walk.minute(16)]


def test_acknowledge_cancels_a_snooze() -> None:
    walk = Walk()
    walk.state, _ = snooze(walk.state, THREE, walk.minute(1), 10)
    walk.state, _ = acknowledge(walk.state, walk.minute(2))
    assert walk.state.snoozed_until is None
    assert walk.at(1_000) == []


def test_manual_escalate_to_next_level_resets_its_deadline() -> None:
    walk = Walk()
    walk.state, pages = escalate(walk.state, THREE, walk.minute(2))
    assert pages == [Page(1, 0, (BOB,), walk.minute(2))]
    assert walk.state.next_escalation_at == walk.minute(12)
    assert walk.at(11) == []
    assert positions(walk.at(12)) == [(2, 0)]


def test_manual_escalate_to_a_chosen_level() -> None:
    walk = Walk()
    walk.state, pages = escalate(walk.state, THREE, walk.minute(1), to_level=2)
    assert pages == [Page(2, 0, (PRIMARY, ALICE), walk.minute(1))]
    assert walk.state.next_escalation_at is None  # level 2 is final without repeats


def test_manual_escalate_reopens_an_acknowledged_incident() -> None:
    walk = Walk()
    walk.state, _ = acknowledge(walk.state, walk.minute(1))
    walk.state, pages = escalate(walk.state, THREE, walk.minute(2))
    assert positions(pages) == [(1, 0)] and not walk.state.stopped
    assert positions(walk.at(12)) == [(2, 0)]


def test_manual_escalate_past_the_last_level_wraps_to_the_next_pass() -> None:
    policy = Policy((Level(5, (ALICE,)), Level(5, (BOB,))), repeat=1)
    walk = Walk(policy)
    walk.at(5)
    walk.state, pages = escalate(walk.state, policy, walk.minute(6))
    assert positions(pages) == [(0, 1)]
    walk.state, pages = escalate(walk.state, policy, walk.minute(7))
    assert positions(pages) == [(1, 1)]
    # Final position: there is no next level, so the last one is paged again.
    walk.state, pages = escalate(walk.state, policy, walk.minute(8))
    assert positions(pages) == [(1, 1)]
    assert walk.state.next_escalation_at is None


def test_late_tick_pages_each_missed_level_once_in_order() -> None:
    policy = Policy((Level(5, (ALICE,)), Level(10, (BOB,)), Level(15, (PRIMARY,))), repeat=1)
    walk = Walk(policy)
    # A long outage: nothing ticks until three hours later.
    pages = walk.at(180)
    assert positions(pages) == [(1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    assert [p.at for p in pages] == [walk.minute(m) for m in (5, 15, 30, 35, 45)]
    assert walk.at(180) == [] and walk.at(10_000) == []


def test_late_tick_stops_at_now() -> None:
    walk = Walk()
    assert positions(walk.at(14)) == [(1, 0)]
    assert walk.state.next_escalation_at == walk.minute(15)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Policy(()), "at least one level"),
        (lambda: Policy((Level(5, (ALICE,)),), repeat=-1), "repeat"),
        (lambda: Level(0, (ALICE,)), "delay_minutes"),
        (lambda: Level(5, ()), "at least one target"),
        (lambda: Target(TargetKind.USER, ""), "id"),
        (lambda: start(THREE, datetime(2026, 1, 1)), "no time zone"),
    ],
)
def test_invalid_input_says_what_is_wrong(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_invalid_calls_say_what_is_wrong() -> None:
    walk = Walk()
    now = walk.minute(1)
    with pytest.raises(ValueError, match="to_level 3 is out of range"):
        escalate(walk.state, THREE, now, to_level=3)
    with pytest.raises(ValueError, match="to_level -1 is out of range"):
        escalate(walk.state, THREE, now, to_level=-1)
    with pytest.raises(ValueError, match="snooze minutes must be positive"):
        snooze(walk.state, THREE, now, 0)
    with pytest.raises(ValueError, match="no time zone"):
        tick(walk.state, THREE, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="no time zone"):
        acknowledge(walk.state, datetime(2026, 1, 1))
    stale = EscalationState(level=5, pass_=0, next_escalation_at=now)
    with pytest.raises(ValueError, match="state is at level 5"):
        tick(stale, THREE, now)
    with pytest.raises(ValueError, match="no time zone"):
        EscalationState(0, 0, datetime(2026, 1, 1))


def test_non_utc_zones_are_normalised() -> None:
    plus_two = timezone(timedelta(hours=2))
    state, pages = start(THREE, datetime(2026, 1, 1, 12, tzinfo=plus_two))
    assert pages[0].at == datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    assert state.next_escalation_at is not None and state.next_escalation_at.tzinfo is timezone.utc


policies = st.builds(
    Policy,
    st.lists(st.integers(1, 30), min_size=1, max_size=4).map(
        lambda delays: tuple(Level(d, (ALICE,)) for d in delays)
    ),
    st.integers(0, 2),
)


@settings(max_examples=100, deadline=None)
@given(policy=policies, ticks=st.lists(st.integers(0, 400), max_size=20))
def test_ticks_never_page_twice_and_follow_the_walk_order(policy: Policy, ticks: list[int]) -> None:
    clock = FakeClock()
    t0 = clock.now()
    state, pages = start(policy, t0)
    for minute in sorted(ticks):
        state, more = tick(state, policy, t0 + timedelta(minutes=minute))
        pages += more
    paged = positions(pages)
    assert len(paged) == len(set(paged))
    assert paged == walk_order(policy)[: len(paged)]
    # Each page is at its own deadline: the sum of the delays of the levels before it.
    order = walk_order(policy)
    due = [t0]
    for level, _ in order[:-1]:
        due.append(due[-1] + policy.levels[level].delay)
    assert [p.at for p in pages] == due[: len(pages)]
    # Everything due by the last tick was paged.
    last = t0 + timedelta(minutes=max(ticks, default=0))
    assert len(pages) == sum(1 for d in due if d <= last)
