"""Login sessions: when one ends, when it is worth recording that it was used, and the CSRF
check on requests that change something. Pure.

A session ends at a fixed time after login (the absolute expiry) or after a stretch without
requests (the idle expiry), whichever comes first. The cookie travels with every request the
browser makes to us, including ones another site's page triggers; SameSite=Strict stops
most of those, and the CSRF token, which only our own pages can read, stops the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.actors.domain.accounts.credentials import same_secret

SESSION_COOKIE = "tocsin_session"
CSRF_HEADER = "X-CSRF-Token"
# Methods that only read: they need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Recording every request's time would be a write per request; this precision is enough
# for an idle expiry counted in minutes.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How long sessions last: `absolute` from login, `idle` from the last request."""

    absolute: timedelta
    idle: timedelta

    def expires_at(self, created_at: datetime) -> datetime:
        return created_at + self.absolute

    def ended(self, expires_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now >= expires_at or now >= last_seen_at + self.idle


def worth_touching(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_EVERY


def csrf_refusal(method: str, presented: str | None, expected: str) -> str | None:
    """Why a request made with the session cookie is refused for want of the CSRF token;
    None when it may go on."""
    if method.upper() in SAFE_METHODS:
        return None
    if not presented:
        return f"CSRF check failed: a {method.upper()} with the session cookie needs the {CSRF_HEADER} header" \
               " (the csrf_token given at login)"
    if not same_secret(presented, expected):
        return f"CSRF check failed: the {CSRF_HEADER} header does not match this session's csrf_token"
    return None
