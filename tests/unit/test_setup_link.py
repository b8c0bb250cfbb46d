"""The one-time setup link's rules: it works once, within 24 hours of being made, and only
while nobody can log in; each refusal says which of these it is."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tocsin.actors.domain.accounts.credentials import digest
from tocsin.actors.domain.accounts.setup import LIFETIME, SetupToken, expiry, new_setup_token, refusal

MADE = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
FRESH = SetupToken(expiry(MADE))


def test_a_fresh_link_works_while_nobody_can_log_in() -> None:
    assert refusal(FRESH, MADE, someone_can_log_in=False) is None
    assert refusal(FRESH, MADE + LIFETIME - timedelta(seconds=1), someone_can_log_in=False) is None


def test_a_link_works_for_24_hours() -> None:
    assert LIFETIME == timedelta(hours=24)
    assert "expired" in (refusal(FRESH, MADE + LIFETIME, someone_can_log_in=False) or "")
    assert "expired" in (refusal(FRESH, MADE + timedelta(days=30), someone_can_log_in=False) or "")


def test_a_used_link_is_refused_as_used() -> None:
    used = SetupToken(expiry(MADE), used_at=MADE + timedelta(minutes=5))
    assert "used already" in (refusal(used, MADE + timedelta(minutes=6), someone_can_log_in=True) or "")
    assert "used already" in (refusal(used, MADE + timedelta(minutes=6), someone_can_log_in=False) or "")


def test_once_anyone_can_log_in_an_unused_link_is_refused() -> None:
    """However that account came to be: the environment's admin, or one made through the API."""
    assert "can log in already" in (refusal(FRESH, MADE, someone_can_log_in=True) or "")


def test_a_token_tocsin_never_made_is_refused() -> None:
    assert "not one Tocsin made" in (refusal(None, MADE, someone_can_log_in=False) or "")


def test_tokens_are_random_url_safe_and_kept_only_as_their_digest() -> None:
    tokens = {new_setup_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens)  # 256 bits
    token = tokens.pop()
    assert digest(token) != token and len(digest(token)) == 64 and token not in digest(token)
