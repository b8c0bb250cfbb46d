"""The one-time setup link, through which the first admin is created from a browser. Pure.

`tocsin up` makes one when nobody can log in. It works once, within LIFETIME of being made,
and only while nobody can log in yet: once anyone can, the link has done its work, whoever
made that account. The token carries 256 random bits and is kept as its digest
(tocsin.actors.domain.accounts.credentials).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.actors.domain.accounts.credentials import new_session_id

LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SetupToken:
    expires_at: datetime
    used_at: datetime | None = None


def new_setup_token() -> str:
    return new_session_id()  # the same 256 random bits, URL-safe


def expiry(created_at: datetime) -> datetime:
    return created_at + LIFETIME


def refusal(token: SetupToken | None, now: datetime, someone_can_log_in: bool) -> str | None:
    """Why the link cannot create an admin now; None when it can. The reasons are told
    apart (the token is the credential, and no account is named), so that the person knows
    what to do next."""
    if token is None:
        return "This setup link is not one Tocsin made: use the link `tocsin up` printed last."
    if token.used_at is not None:
        return "This setup link was used already: log in with the admin it created."
    if someone_can_log_in:
        return "Someone can log in already: log in, or ask an admin for an account."
    if now >= token.expires_at:
        return "This setup link has expired: restart `tocsin up` for a new one."
    return None
