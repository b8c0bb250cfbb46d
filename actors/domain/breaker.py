"""A circuit breaker per provider: stop calling a provider that is failing, try it again
after a cool-down, and trust it again once a probe succeeds.

closed    calls go through; it opens after `max_consecutive` failures in a row, or when at
          least `min_calls` calls in the last `window_s` seconds failed at `failure_rate`
          or more.
open      calls fail fast (`allow` is False) until `cooldown_s` has passed,
half_open then one probe goes through; its success closes the breaker, its failure
          opens it again for another cool-down; a probe that says nothing about the
          provider (`inconclusive`) lets the next call probe.

Pure: the caller passes the time (monotonic seconds).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum


class State(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerRules:
    max_consecutive: int = 5
    failure_rate: float = 0.5
    min_calls: int = 10
    window_s: float = 60.0
    cooldown_s: float = 30.0


class CircuitBreaker:
    def __init__(self, rules: BreakerRules | None = None) -> None:
        self.rules = rules or BreakerRules()
        self.state = State.CLOSED
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self._probing = False
        self._calls: deque[tuple[float, bool]] = deque()  # (at, failed) within the window
        self.opened = 0  # how many times it opened

    def allow(self, now: float) -> bool:
        """Whether a call may go to the provider now (a half-open breaker lets one through)."""
        if self.state is State.OPEN:
            assert self.opened_at is not None
            if now - self.opened_at < self.rules.cooldown_s:
                return False
            self.state = State.HALF_OPEN
        if self.state is State.HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    def success(self, now: float) -> None:
        self._record(now, failed=False)
        self.consecutive_failures = 0
        if self.state is State.HALF_OPEN:
            self._close()

    def failure(self, now: float) -> None:
        self._record(now, failed=True)
        self.consecutive_failures += 1
        if self.state is State.HALF_OPEN or self._tripped():
            self._open(now)

    def inconclusive(self) -> None:
        """A call that failed on its own message, without the provider's word on it: it counts
        neither way, and a probe it was leaves the next call to probe."""
        self._probing = False

    def snapshot(self, now: float) -> dict[str, object]:
        self._forget(now)
        failed = sum(1 for _, f in self._calls if f)
        retry_in = None
        if self.state is State.OPEN and self.opened_at is not None:
            retry_in = max(0.0, self.rules.cooldown_s - (now - self.opened_at))
        return {"state": self.state.value, "consecutive_failures": self.consecutive_failures,
                "calls_in_window": len(self._calls), "failures_in_window": failed,
                "probe_in_s": None if retry_in is None else round(retry_in, 1), "times_opened": self.opened}

    def _tripped(self) -> bool:
        if self.consecutive_failures >= self.rules.max_consecutive:
            return True
        calls = len(self._calls)
        failed = sum(1 for _, f in self._calls if f)
        return calls >= self.rules.min_calls and failed / calls >= self.rules.failure_rate

    def _open(self, now: float) -> None:
        self.state, self.opened_at, self._probing = State.OPEN, now, False
        self.opened += 1

    def _close(self) -> None:
        self.state, self.opened_at, self._probing = State.CLOSED, None, False
        self._calls.clear()

    def _record(self, now: float, failed: bool) -> None:
        self._calls.append((now, failed))
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._calls and now - self._calls[0][0] > self.rules.window_s:
            self._calls.popleft()
