"""Proving a contact method reaches its owner: a six-digit code sent to it, typed back. Pure.

Only a salted SHA-256 of the code is stored, so a copy of the database holds no code that
can be typed in; a code lives `CODE_TTL`, survives `MAX_FAILURES` wrong guesses, and a
contact method gets at most one code per `RESEND_AFTER`.

Beyond one contact method, `Limits` (data, evaluated over sliding windows like failed
logins) bound the codes sent per user and per destination, so that nobody has a phone
texted again and again through many contact methods or accounts, and the wrong codes a
user types across all their contact methods, so that twenty methods are not twenty times
the guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from tocsin.actors.domain.accounts.lockout import Limit, wait

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=15)
RESEND_AFTER = timedelta(seconds=60)
MAX_FAILURES = 5

_SCHEME = "sha256"


def new_code() -> str:
    """Six random digits, zero-padded: every code from 000000 to 999999 is as likely."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, salt: str | None = None) -> str:
    """What is stored for `code`: "sha256$<salt>$<digest>", a fresh random salt unless given."""
    salt = salt if salt is not None else secrets.token_hex(16)
    return f"{_SCHEME}${salt}${_digest(code, salt)}"


def code_matches(code: str, stored: str) -> bool:
    """Whether `code` is the one `stored` was made from, compared in constant time."""
    scheme, _, rest = stored.partition("$")
    salt, _, digest = rest.partition("$")
    if scheme != _SCHEME or not salt or not digest:
        return False
    return hmac.compare_digest(_digest(code, salt), digest)


def _digest(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}${code}".encode()).hexdigest()


def resend_wait(sent_at: datetime | None, now: datetime) -> float:
    """Seconds before another code may be sent; 0 when one may be sent now."""
    if sent_at is None:
        return 0.0
    return max((sent_at + RESEND_AFTER - now).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class Pending:
    """A contact method's outstanding code, as stored."""

    code_hash: str | None
    expires_at: datetime | None
    failures: int


class Verdict(Enum):
    MATCH = "match"
    WRONG = "wrong"  # counts as a failure
    NOT_REQUESTED = "not requested"
    VOID = "void"  # too many wrong codes
    EXPIRED = "expired"


def check(pending: Pending, code: str, now: datetime) -> Verdict:
    """What typing `code` at `now` does with `pending`. A void or expired code is refused
    before it is compared, so guessing at it tells nothing and costs nothing."""
    if pending.code_hash is None or pending.expires_at is None:
        return Verdict.NOT_REQUESTED
    if pending.failures >= MAX_FAILURES:
        return Verdict.VOID
    if now >= pending.expires_at:
        return Verdict.EXPIRED
    return Verdict.MATCH if code_matches(code, pending.code_hash) else Verdict.WRONG


@dataclass(frozen=True, slots=True)
class Limits:
    sends_per_user: Limit
    sends_per_destination: Limit
    wrong_codes_per_user: Limit


def destination_key(address: str) -> str:
    """The destination a code counts against: a digest of the address in one spelling, so that
    one number or mailbox on several contact methods, or several users', is one destination,
    and the counts keep no copy of an address (a webhook URL may hold a secret)."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def send_wait(limits: Limits, sent_by_user: Sequence[datetime], sent_to_destination: Sequence[datetime],
              now: datetime) -> tuple[timedelta, str] | None:
    """None when another code may be sent now, given the times of the codes sent for the user
    and to the destination; otherwise how long until one may, and which limit holds it back
    ("user" or "destination")."""
    waits = [(delay, what) for what, times, limit in (("user", sent_by_user, limits.sends_per_user),
                                                       ("destination", sent_to_destination,
                                                        limits.sends_per_destination))
             if (delay := wait(times, limit, now)) is not None]
    return max(waits) if waits else None


def guess_wait(limits: Limits, wrong_codes: Sequence[datetime], now: datetime) -> timedelta | None:
    """None when the user may type a code now, given the times of their wrong codes on any of
    their contact methods; otherwise how long until they may."""
    return wait(wrong_codes, limits.wrong_codes_per_user, now)
