"""Circuit breaker, retry back-off and per-person throttles: the rules the channel actors apply."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.breaker import BreakerRules, CircuitBreaker, State
from tocsin.actors.domain.retry import RetryRules
from tocsin.actors.domain.throttle import Decision, ThrottleRule, decide

RULES = BreakerRules(max_consecutive=3, failure_rate=0.5, min_calls=6, window_s=60, cooldown_s=30)


def test_a_run_of_failures_opens_the_breaker_and_it_fails_fast() -> None:
    breaker = CircuitBreaker(RULES)
    for t in range(3):
        assert breaker.allow(t)
        breaker.failure(t)
    assert breaker.state is State.OPEN
    assert not breaker.allow(10) and not breaker.allow(29.9)


def test_a_failure_rate_over_the_window_opens_it_without_a_run() -> None:
    breaker = CircuitBreaker(RULES)
    for t, failed in enumerate([False, True, False, True, False, True]):
        breaker.failure(t) if failed else breaker.success(t)
    assert breaker.state is State.OPEN  # 3 of 6 failed, never 3 in a row


def test_old_calls_leave_the_window() -> None:
    breaker = CircuitBreaker(RULES)
    for t, failed in enumerate([True, False, True, False, True]):
        breaker.failure(t) if failed else breaker.success(t)
    breaker.success(100)  # the five above are more than 60 s old
    assert breaker.state is State.CLOSED


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes() -> None:
    breaker = CircuitBreaker(RULES)
    for t in range(3):
        breaker.failure(t)
    assert breaker.allow(32)  # the probe
    assert not breaker.allow(32.5)  # only one at a time
    breaker.success(33)
    assert breaker.state is State.CLOSED and breaker.allow(33)


def test_a_failed_probe_opens_it_for_another_cool_down() -> None:
    breaker = CircuitBreaker(RULES)
    for t in range(3):
        breaker.failure(t)
    assert breaker.allow(40)
    breaker.failure(40)
    assert breaker.state is State.OPEN
    assert not breaker.allow(69) and breaker.allow(70.5)
    assert breaker.snapshot(70.5)["times_opened"] == 2


def test_a_probe_that_failed_on_its_own_message_leaves_the_next_call_to_probe() -> None:
    breaker = CircuitBreaker(RULES)
    for t in range(3):
        breaker.failure(t)
    assert breaker.allow(40)
    breaker.inconclusive()
    assert breaker.state is State.HALF_OPEN and breaker.allow(41)  # not stuck waiting for a verdict
    breaker.success(41)
    assert breaker.state is State.CLOSED


def test_failures_on_their_own_messages_never_open_the_breaker() -> None:
    breaker = CircuitBreaker(RULES)
    for t in range(20):
        assert breaker.allow(t)
        breaker.inconclusive()
    assert breaker.state is State.CLOSED


def test_back_off_grows_exponentially_with_jitter_up_to_a_cap() -> None:
    rules = RetryRules(base_s=2, cap_s=60, max_attempts=5)
    rng = random.Random(3)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (7, 60), (30, 60)]:
        delays = [rules.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # really spread
    assert not rules.exhausted(4) and rules.exhausted(5)


THREE_PER_5_MIN = [ThrottleRule(3, 300)]


def test_within_the_limit_everything_goes_out_alone() -> None:
    assert decide(THREE_PER_5_MIN, [0.0], 10, 2) == Decision(2, False, 0.0)


def test_past_the_limit_the_last_free_message_carries_the_rest() -> None:
    assert decide(THREE_PER_5_MIN, [0.0], 10, 12) == Decision(1, True, 0.0)


def test_with_no_room_left_it_waits_for_the_window() -> None:
    decision = decide(THREE_PER_5_MIN, [0.0, 100.0, 200.0], 250, 4)
    assert decision == Decision(0, False, 50.0)  # the oldest leaves the window at 300


@settings(max_examples=200, deadline=None)
@given(
    sent=st.lists(st.floats(0, 1000), max_size=10),
    now=st.floats(1000, 2000),
    waiting=st.integers(1, 30),
    count=st.integers(1, 6),
    window=st.floats(1, 1500),
)
def test_a_decision_never_exceeds_the_rule(sent: list[float], now: float, waiting: int, count: int,
                                           window: float) -> None:
    rule = ThrottleRule(count, window)
    decision = decide([rule], sent, now, waiting)
    recent = sum(1 for t in sent if now - t < window)
    messages = decision.send + (1 if decision.bundle else 0)
    assert recent + messages <= max(count, recent)  # never more than the rule allows
    assert decision.send + (waiting - decision.send if decision.bundle else 0) <= waiting
    if recent < count:
        assert messages >= 1  # room means something goes out: nothing is held for nothing
        assert decision.send == waiting or decision.bundle  # everything is sent or carried
    else:
        assert messages == 0 and decision.wait_s >= 0
