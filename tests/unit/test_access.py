"""Accounts and access, the pure parts: roles, password hashes, secrets, the CSRF check,
session expiry, the failed-login window and the client's address."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.domain.accounts import credentials, passwords
from tocsin.actors.domain.accounts.access import Caller, Role
from tocsin.actors.domain.accounts.lockout import Limit, account_key, wait
from tocsin.actors.domain.accounts.sessions import Lifetime, csrf_refusal, worth_touching
from tocsin.serve.forwarded import Ingress, address_key, client_address

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
ALICE = "5d9ab0b4-5f0e-4d8e-9a4c-3f1f0e2b7c11"


# -- roles --------------------------------------------------------------------------------------

def test_roles_are_ordered_by_rank_not_by_spelling():
    assert Role.VIEWER < Role.RESPONDER < Role.ADMIN
    assert sorted([Role.ADMIN, Role.VIEWER, Role.RESPONDER]) == [Role.VIEWER, Role.RESPONDER, Role.ADMIN]
    assert Role.ADMIN >= Role.ADMIN and not Role.ADMIN > Role.ADMIN
    assert Role("responder") is Role.RESPONDER


@pytest.mark.parametrize(("role", "needed", "allowed"), [
    (Role.VIEWER, Role.VIEWER, True), (Role.VIEWER, Role.RESPONDER, False), (Role.VIEWER, Role.ADMIN, False),
    (Role.RESPONDER, Role.RESPONDER, True), (Role.RESPONDER, Role.ADMIN, False), (Role.ADMIN, Role.ADMIN, True),
])
def test_a_role_has_every_role_below_it(role, needed, allowed):
    assert Caller(ALICE, "Alice", role, "session").has(needed) is allowed


def test_responders_change_only_their_own_and_admins_anyones():
    other = "0c3f9a52-1b7e-4c55-8e0d-6a3b1d2c9f00"
    responder = Caller(ALICE, "Alice", Role.RESPONDER, "token")
    assert responder.may_change_own(ALICE) and not responder.may_change_own(other)
    assert not Caller(ALICE, "Alice", Role.VIEWER, "token").may_change_own(ALICE)
    assert Caller(None, "admin", Role.ADMIN, "admin-token").may_change_own(other)
    assert not Caller(None, "admin", Role.ADMIN, "admin-token").is_user(None)


# -- passwords ----------------------------------------------------------------------------------

def test_passwords_are_argon2id_salted_and_hold_no_password():
    first, second = passwords.hash_password("correct horse"), passwords.hash_password("correct horse")
    assert first.startswith("$argon2id$") and first != second
    assert "correct horse" not in first
    assert passwords.password_matches(first, "correct horse") and passwords.password_matches(second, "correct horse")
    assert not passwords.needs_rehash(first)


@pytest.mark.parametrize("typed", ["correct hors", "Correct horse", "", "correct horse "])
def test_another_password_does_not_match(typed):
    assert not passwords.password_matches(passwords.hash_password("correct horse"), typed)


def test_with_nothing_stored_or_a_broken_hash_nothing_matches():
    assert not passwords.password_matches(None, "no account has this password")
    assert not passwords.password_matches("not a hash", "anything")
    assert passwords.needs_rehash("not a hash")


# -- secrets ------------------------------------------------------------------------------------

def test_api_tokens_are_prefixed_random_and_stored_as_digests():
    tokens = {credentials.new_api_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert credentials.is_api_token(token) and len(token) == 4 + 43
    assert credentials.shown_part(token) == token[:10]
    assert credentials.digest(token) == credentials.digest(token) != credentials.digest(token + "x")
    assert token not in credentials.digest(token)
    assert not credentials.is_api_token(credentials.new_session_id())


def test_secrets_compare_whole_and_never_empty():
    assert credentials.same_secret("abc", "abc")
    assert not credentials.same_secret("abd", "abc") and not credentials.same_secret("ab", "abc")
    assert not credentials.same_secret("", "") and not credentials.same_secret(None, "abc")
    assert not credentials.same_secret("abc", "")


# -- CSRF and session lifetime -------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
def test_reads_need_no_csrf_token(method):
    assert csrf_refusal(method, None, "expected") is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
def test_changes_need_the_sessions_csrf_token(method):
    assert csrf_refusal(method, "expected", "expected") is None
    missing = csrf_refusal(method, None, "expected")
    assert missing and "CSRF" in missing and "X-CSRF-Token" in missing
    wrong = csrf_refusal(method, "other", "expected")
    assert wrong and "CSRF" in wrong and "does not match" in wrong


def test_a_session_ends_at_its_absolute_expiry_or_when_idle():
    lifetime = Lifetime(absolute=timedelta(hours=12), idle=timedelta(minutes=120))
    expires_at = lifetime.expires_at(NOW)
    assert expires_at == NOW + timedelta(hours=12)
    busy = expires_at - timedelta(minutes=1)
    assert not lifetime.ended(expires_at, last_seen_at=busy, now=busy + timedelta(seconds=30))
    assert lifetime.ended(expires_at, last_seen_at=busy, now=expires_at)
    assert not lifetime.ended(expires_at, NOW, NOW + timedelta(minutes=119))
    assert lifetime.ended(expires_at, NOW, NOW + timedelta(minutes=120))


def test_use_is_recorded_at_most_once_a_minute():
    assert not worth_touching(NOW, NOW + timedelta(seconds=59))
    assert worth_touching(NOW, NOW + timedelta(seconds=60))


# -- failed-login window -------------------------------------------------------------------------

FIVE_IN_15 = Limit(5, timedelta(minutes=15))


def test_attempts_are_allowed_below_the_limit():
    assert wait([], FIVE_IN_15, NOW) is None
    assert wait([NOW - timedelta(minutes=m) for m in range(4)], FIVE_IN_15, NOW) is None


def test_at_the_limit_the_wait_lasts_until_the_oldest_leaves_the_window():
    failures = [NOW - timedelta(minutes=m) for m in (10, 8, 6, 4, 2)]
    assert wait(failures, FIVE_IN_15, NOW) == timedelta(minutes=5)
    assert wait(failures, FIVE_IN_15, NOW + timedelta(minutes=5)) is None


def test_past_the_limit_enough_must_leave_to_fall_under_it():
    # Seven failures (two more, from other replicas racing): three must leave the window.
    failures = [NOW - timedelta(minutes=m) for m in (14, 12, 10, 8, 6, 4, 2)]
    assert wait(failures, FIVE_IN_15, NOW) == timedelta(minutes=5)


def test_failures_outside_the_window_or_in_the_future_do_not_count():
    failures = [NOW - timedelta(minutes=15), NOW - timedelta(hours=1)] * 3 + [NOW + timedelta(minutes=1)]
    assert wait(failures, FIVE_IN_15, NOW) is None


def test_an_account_is_the_address_as_typed_in_one_spelling():
    assert account_key("  Alice@Example.COM ") == "alice@example.com"
    assert account_key("nobody@example.com") == "nobody@example.com"


# -- client address ------------------------------------------------------------------------------

def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address("10.0.0.5", ["203.0.113.9"], trusted_hops=0) == "10.0.0.5"
    assert client_address(None, [], trusted_hops=0) == "unknown"


def test_with_a_trusted_proxy_its_entry_is_believed_not_the_clients():
    # The client wrote "1.2.3.4"; the load balancer appended the address it saw.
    assert client_address("10.0.0.5", ["1.2.3.4, 203.0.113.9"], trusted_hops=1) == "203.0.113.9"
    assert client_address("10.0.0.5", ["1.2.3.4, 203.0.113.9, 10.0.0.2"], trusted_hops=2) == "203.0.113.9"


def test_every_x_forwarded_for_header_counts_in_order():
    # HAProxy's `option forwardfor` adds a header of its own after the client's.
    assert client_address("127.0.0.1", ["6.6.6.6, 7.7.7.7", "127.0.0.2"], trusted_hops=1) == "127.0.0.2"
    assert client_address("127.0.0.1", ["6.6.6.6", "203.0.113.9", "10.0.0.2"], trusted_hops=2) == "203.0.113.9"


def test_with_fewer_entries_than_trusted_proxies_the_first_one_is_believed():
    # Each entry there is was appended by a trusted proxy: the first is the nearest the client.
    assert client_address("10.0.0.5", ["203.0.113.9"], trusted_hops=2) == "203.0.113.9"


@pytest.mark.parametrize("headers", [[], [""], ["not-an-address"], ["203.0.113.9, "], ["2001:DB8::1"]])
def test_a_missing_or_odd_header_falls_back_to_the_peer(headers):
    expected = {"203.0.113.9, ": "203.0.113.9", "2001:DB8::1": "2001:db8::1"}.get("".join(headers), "10.0.0.5")
    assert client_address("10.0.0.5", headers, trusted_hops=1) == expected


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("unknown", "unknown"),
])
def test_an_ipv6_client_counts_as_its_64(address, key):
    assert address_key(address) == key


class NodeAddresses:
    def __init__(self, *addresses: str) -> None:
        self.addresses, self.asked = list(addresses), 0

    def __call__(self) -> list[str]:
        self.asked += 1
        return self.addresses


async def test_behind_tocsins_haproxy_one_more_entry_is_believed_from_the_ingress_only():
    nodes = NodeAddresses("10.0.0.7")
    ingress = Ingress(appends_client=True, node_addresses=nodes)
    assert await ingress.trusted_hops("127.0.0.1", 0) == 1
    assert await ingress.trusted_hops("10.0.0.7", 1) == 2
    # The replica's port reached from elsewhere: nothing in the header is believed.
    assert await ingress.trusted_hops("203.0.113.9", 1) == 0
    assert await ingress.trusted_hops(None, 1) == 0


async def test_without_tocsins_haproxy_only_the_configured_proxies_are_believed():
    ingress = Ingress(appends_client=False, node_addresses=NodeAddresses())
    assert await ingress.trusted_hops("127.0.0.1", 0) == 0
    assert await ingress.trusted_hops("203.0.113.9", 2) == 2


async def test_the_nodes_are_asked_again_for_an_unknown_peer_at_most_every_30_s():
    now = [0.0]
    nodes = NodeAddresses("10.0.0.7")
    ingress = Ingress(appends_client=True, node_addresses=nodes, clock=lambda: now[0])
    assert not await ingress.is_ingress("10.0.0.8")
    nodes.addresses.append("10.0.0.8")  # a node joins
    assert not await ingress.is_ingress("10.0.0.8") and nodes.asked == 1
    now[0] += 30
    assert await ingress.is_ingress("10.0.0.8") and nodes.asked == 2
    assert await ingress.is_ingress("10.0.0.7") and nodes.asked == 2


async def test_when_the_nodes_cannot_be_listed_those_known_still_count():
    now, answers = [0.0], [["10.0.0.7"], RuntimeError("GCS unavailable")]

    def nodes() -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    ingress = Ingress(appends_client=True, node_addresses=nodes, clock=lambda: now[0])
    assert await ingress.is_ingress("10.0.0.7")
    now[0] += 30
    assert not await ingress.is_ingress("10.0.0.8")
    assert await ingress.is_ingress("10.0.0.7")


@pytest.mark.parametrize(("environ", "appends"), [
    ({"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_HAPROXY_BINARY_PATH": "/tmp/x/tocsin-haproxy"}, True),
    ({"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_HAPROXY_BINARY_PATH": "/usr/sbin/haproxy"}, False),
    ({"RAY_SERVE_ENABLE_HA_PROXY": "1"}, False),
    ({"RAY_SERVE_HAPROXY_BINARY_PATH": "/tmp/x/tocsin-haproxy"}, False),  # Serve's Python proxy
])
def test_the_ingress_appends_the_client_only_when_haproxy_runs_as_tocsin_haproxy(environ, appends):
    assert Ingress.of_this_process(NodeAddresses(), environ).appends_client is appends


def test_session_settings_have_safe_defaults_and_read_from_the_environment(monkeypatch):
    from tocsin.actors.settings import Settings

    defaults = Settings()
    assert defaults.cookie_secure is True and defaults.session_hours == 12 and defaults.trusted_proxy_hops == 0
    assert (defaults.login_failures_per_account, defaults.login_failures_per_address) == (5, 20)
    monkeypatch.setenv("TOCSIN_COOKIE_SECURE", "false")
    monkeypatch.setenv("TOCSIN_SESSION_HOURS", "2")
    monkeypatch.setenv("TOCSIN_ADMIN_PASSWORD", "s3cret-enough")
    read = Settings.from_env()
    assert read.cookie_secure is False and read.session_hours == 2
    assert "s3cret" not in repr(read)  # a secret is never printed
