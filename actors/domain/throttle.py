"""Per-person throttles, as declarative rules in the spirit of GoAlert's ThrottleRule: a
contact method gets at most `count` messages per `window_s`; past it, what is waiting is
bundled into one message when the window has room again.

Pure: the caller passes when messages were last sent to the contact method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    count: int
    window_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    send: int  # how many waiting messages go out one by one
    bundle: bool  # whether the rest go out as one message now
    wait_s: float  # when nothing may go out: seconds until the window has room


def decide(rules: Sequence[ThrottleRule], sent_at: Sequence[float], now: float, waiting: int) -> Decision:
    """`sent_at`: when messages went to this contact method (seconds, any order)."""
    room = waiting
    wait = 0.0
    for rule in rules:
        recent = sorted(t for t in sent_at if now - t < rule.window_s)
        free = rule.count - len(recent)
        if free <= 0:
            wait = max(wait, recent[-rule.count] + rule.window_s - now if recent else 0.0)
        room = min(room, max(free, 0))
    if room <= 0:
        return Decision(0, False, wait)
    if room >= waiting:
        return Decision(waiting, False, 0.0)
    return Decision(room - 1, True, 0.0)  # the last free message carries all the rest
