"""How many failed logins are allowed: limits as data (at most `count` per `per`), evaluated
over a sliding window of the failures' times. Pure.

Each login checks two limits: one per account (the e-mail address typed, whether or not a
user has it, so that a refusal tells nothing about which accounts exist) and one per client
address (against one address trying many accounts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    per: timedelta


def wait(failures: Iterable[datetime], limit: Limit, now: datetime) -> timedelta | None:
    """How long until another attempt is allowed, given the times of earlier failures; None
    when one is allowed now. Allowed means fewer than `count` failures in the last `per`."""
    recent = sorted(at for at in failures if now - limit.per < at <= now)
    if len(recent) < limit.count:
        return None
    # Enough of the oldest must leave the window to bring the count under the limit; the
    # last of those to leave is this one.
    freed_at = recent[len(recent) - limit.count] + limit.per
    return freed_at - now


def account_key(email: str) -> str:
    """The account an attempt counts against: the address as typed, in one spelling."""
    return email.strip().lower()
