"""Verification codes: how they are made, stored, checked and rate-limited."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.domain.accounts import verification as codes
from tocsin.actors.domain.accounts.lockout import Limit
from tocsin.actors.domain.accounts.verification import MAX_FAILURES, Pending, Verdict, check, code_matches, hash_code

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def test_codes_are_six_digits_zero_padded(monkeypatch):
    asked: list[int] = []
    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: asked.append(n) or 42)
    assert codes.new_code() == "000042"
    assert asked == [10 ** 6]


def test_codes_are_random():
    made = {codes.new_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in made)
    assert len(made) > 190


def test_the_stored_hash_holds_no_code_and_is_salted():
    first, second = hash_code("123456"), hash_code("123456")
    assert "123456" not in first
    assert first != second
    assert code_matches("123456", first) and code_matches("123456", second)


def test_a_given_salt_gives_the_same_hash():
    assert hash_code("123456", "pepper") == hash_code("123456", "pepper") != hash_code("123457", "pepper")


@pytest.mark.parametrize("typed", ["123457", "12345", "1234567", "", " 123456"])
def test_another_code_does_not_match(typed):
    assert not code_matches(typed, hash_code("123456"))


@pytest.mark.parametrize("stored", ["", "123456", "sha256$$", "md5$salt$abc", "sha256$salt", "sha256$salt$"])
def test_a_malformed_hash_matches_nothing(stored):
    assert not code_matches("123456", stored)


def _pending(code="123456", expires_in=timedelta(minutes=15), failures=0):
    return Pending(hash_code(code), NOW + expires_in, failures)


def test_the_right_code_in_time_matches():
    assert check(_pending(), "123456", NOW) is Verdict.MATCH
    assert check(_pending(expires_in=timedelta(seconds=1)), "123456", NOW) is Verdict.MATCH


def test_a_wrong_code_is_wrong():
    assert check(_pending(), "654321", NOW) is Verdict.WRONG
    assert check(_pending(failures=MAX_FAILURES - 1), "654321", NOW) is Verdict.WRONG


def test_no_code_sent():
    assert check(Pending(None, None, 0), "123456", NOW) is Verdict.NOT_REQUESTED


@pytest.mark.parametrize("typed", ["123456", "654321"])
def test_an_expired_code_is_refused_whatever_is_typed(typed):
    assert check(_pending(expires_in=timedelta(0)), typed, NOW) is Verdict.EXPIRED
    assert check(_pending(expires_in=-timedelta(minutes=1)), typed, NOW) is Verdict.EXPIRED


@pytest.mark.parametrize("typed", ["123456", "654321"])
def test_after_max_failures_even_the_right_code_is_void(typed):
    assert check(_pending(failures=MAX_FAILURES), typed, NOW) is Verdict.VOID
    assert check(_pending(failures=MAX_FAILURES, expires_in=-timedelta(1)), typed, NOW) is Verdict.VOID


def test_codes_last_fifteen_minutes_and_five_tries():
    assert (codes.CODE_TTL, codes.MAX_FAILURES) == (timedelta(minutes=15), 5)


@pytest.mark.parametrize(("sent_ago", "wait"), [
    (None, 0.0), (timedelta(0), 60.0), (timedelta(seconds=1), 59.0), (timedelta(seconds=59.5), 0.5),
    (timedelta(seconds=60), 0.0), (timedelta(hours=1), 0.0),
])
def test_one_code_a_minute(sent_ago, wait):
    assert codes.resend_wait(None if sent_ago is None else NOW - sent_ago, NOW) == wait


# -- limits beyond one contact method ------------------------------------------------------

HOUR = timedelta(hours=1)
LIMITS = codes.Limits(sends_per_user=Limit(3, HOUR), sends_per_destination=Limit(2, HOUR),
                      wrong_codes_per_user=Limit(4, HOUR))


def _ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_codes_may_be_sent_under_both_limits():
    assert codes.send_wait(LIMITS, [], [], NOW) is None
    assert codes.send_wait(LIMITS, _ago(1, 2), _ago(1), NOW) is None
    assert codes.send_wait(LIMITS, _ago(1, 2, 61), _ago(1, 60), NOW) is None  # older ones have left the window


def test_the_user_limit_holds_back_until_the_oldest_leaves_the_window():
    assert codes.send_wait(LIMITS, _ago(5, 10, 50), [], NOW) == (timedelta(minutes=10), "user")


def test_the_destination_limit_holds_back_whoever_asks():
    assert codes.send_wait(LIMITS, [], _ago(1, 30), NOW) == (timedelta(minutes=30), "destination")


def test_the_longer_wait_is_the_one_told():
    assert codes.send_wait(LIMITS, _ago(5, 10, 50), _ago(1, 30), NOW) == (timedelta(minutes=30), "destination")
    assert codes.send_wait(LIMITS, _ago(5, 10, 20), _ago(1, 55), NOW) == (timedelta(minutes=40), "user")


def test_wrong_codes_across_methods_hold_back_every_check():
    assert codes.guess_wait(LIMITS, _ago(1, 2, 3), NOW) is None
    assert codes.guess_wait(LIMITS, _ago(1, 2, 3, 15), NOW) == timedelta(minutes=45)
    assert codes.guess_wait(LIMITS, _ago(1, 2, 3, 61), NOW) is None


@pytest.mark.parametrize(("one", "other"), [("+14155550123", " +14155550123"), ("Ops@Example.com", "ops@example.com"),
                                            ("https://hooks.example.com/A", "https://HOOKS.example.com/a")])
def test_one_destination_in_any_spelling(one, other):
    assert codes.destination_key(one) == codes.destination_key(other)
    assert one.strip().lower() not in codes.destination_key(one)


def test_other_destinations_are_other_keys():
    assert codes.destination_key("+14155550123") != codes.destination_key("+14155550124")
