"""Accounts in Postgres: the first admin of `tocsin up` (or its setup link), `tocsin user
set-password`, and the rows behind sessions and the failed-login window."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.domain.accounts.credentials import digest
from tocsin.actors.domain.accounts.passwords import password_matches
from tocsin.cluster import accounts
from tocsin.cluster.cli import main

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def _email() -> str:
    return f"admin.{uuid.uuid4().hex[:10]}@example.com"


def _user(db, email: str) -> dict:
    return dict(db("fetchrow", "SELECT id::text, name, role, password_hash FROM users WHERE email = $1", email))


def test_up_makes_the_admin_once_and_keeps_a_password_changed_since(database_url, db):
    email = _email()
    assert accounts.ensure_admin(database_url, email, "first password") == "created"
    user = _user(db, email)
    assert user["role"] == "admin" and user["name"] == email.split("@")[0]
    assert password_matches(user["password_hash"], "first password")
    assert accounts.ensure_admin(database_url, email.upper(), "first password") == "unchanged"
    assert accounts.ensure_admin(database_url, email, "another password") == "unchanged"
    assert password_matches(_user(db, email)["password_hash"], "first password")


def test_up_makes_an_existing_user_admin_and_gives_a_password_only_when_none(database_url, db):
    email = _email()
    db("execute", "INSERT INTO users (id, name, email, role, calendar_token) VALUES ($1, 'Ops', $2, 'viewer', 'c')",
       str(uuid.uuid4()), email)
    assert accounts.ensure_admin(database_url, email, "chosen at start") == "made admin, made break-glass, password set"
    assert _user(db, email)["role"] == "admin"
    assert db("fetchval", "SELECT break_glass FROM users WHERE email = $1", email) is True


def test_up_refuses_a_short_admin_password(database_url):
    with pytest.raises(accounts.AccountProblem, match="TOCSIN_ADMIN_PASSWORD: .*8 characters"):
        accounts.ensure_admin(database_url, _email(), "short")


def test_set_password_from_the_command_line_ends_the_users_sessions(database_url, db, monkeypatch, capsys):
    email = _email()
    accounts.ensure_admin(database_url, email, "first password")
    user_id = _user(db, email)["id"]
    db("execute", "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)"
                  " VALUES ($1, $2::uuid, 'c', now(), now(), now() + interval '1 hour')", digest("s"), user_id)
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("piped in password\n"))
    assert main(["user", "set-password", email]) == 0
    assert password_matches(_user(db, email)["password_hash"], "piped in password")
    assert db("fetchval", "SELECT count(*) FROM sessions WHERE user_id = $1::uuid", user_id) == 0
    assert "password set" in capsys.readouterr().out


@pytest.mark.parametrize(("typed", "says"), [("piped in password\n", "no user has"), ("short\n", "8 characters")])
def test_set_password_says_what_is_wrong(database_url, monkeypatch, capsys, typed, says):
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert main(["user", "set-password", _email()]) == 1
    assert says in capsys.readouterr().out


async def test_failed_logins_are_counted_per_account_and_address_and_pruned(database_url):
    import asyncpg

    from tocsin.actors.store import login_failures

    account, address = f"{uuid.uuid4().hex}@example.com", f"198.18.{uuid.uuid4().int % 256}.1"
    conn = await asyncpg.connect(database_url)
    try:
        for minutes in (20, 10, 5):
            at = NOW - timedelta(minutes=minutes)
            await login_failures.record(conn, account, address, at, prune_before=at - timedelta(minutes=15))
        await login_failures.record(conn, "other@example.com", address, NOW, prune_before=NOW - timedelta(minutes=15))
        by_account, by_address = await login_failures.since(conn, account, address, NOW - timedelta(minutes=15))
        assert sorted(by_account) == [NOW - timedelta(minutes=10), NOW - timedelta(minutes=5)]
        assert len(by_address) == 3
        # The row of 20 minutes ago left every window and went when the last one was recorded.
        assert await conn.fetchval("SELECT count(*) FROM login_failures WHERE account = $1", account) == 2
        await login_failures.forget_account(conn, account)
        by_account, by_address = await login_failures.since(conn, account, address, NOW - timedelta(minutes=15))
        assert by_account == [] and by_address == [NOW]
    finally:
        await conn.close()


def test_the_admin_comes_from_the_settings_only_when_both_are_set(database_url, db):
    """As `tocsin up` and a Serve-config deployment on a cluster both make the first admin."""
    from tocsin.actors.settings import Settings

    email = _email()
    assert accounts.ensure_configured_admin(Settings(admin_email=email), database_url) is None
    assert db("fetchval", "SELECT count(*) FROM users WHERE email = $1", email) == 0

    both = Settings(admin_email=email, admin_password="from the settings")
    assert accounts.ensure_configured_admin(both, database_url) == "created"
    assert _user(db, email)["role"] == "admin"


def test_up_makes_a_setup_link_only_while_nobody_can_log_in_and_keeps_only_its_digest(postgres_admin_url):
    from tocsin.actors.settings import Settings
    from tests.conftest import fresh_database, statement_runner

    with fresh_database(postgres_admin_url) as url:
        run = statement_runner(url)
        link = accounts.setup_link(Settings(port=8123), url)
        assert link is not None and link.startswith("http://127.0.0.1:8123/ui/setup?token=")
        token = link.split("token=", 1)[1]
        [row] = run("fetch", "SELECT token_hash, expires_at - created_at AS lifetime, used_at FROM setup_tokens")
        assert row["token_hash"] == digest(token) and row["lifetime"] == timedelta(hours=24) and row["used_at"] is None

        behind_a_proxy = accounts.setup_link(Settings(public_url="https://oncall.example.com/"), url)
        assert behind_a_proxy is not None and behind_a_proxy.startswith("https://oncall.example.com/ui/setup?token=")

        # A user without a password cannot log in: still a link. One with a password: none.
        run("execute", "INSERT INTO users (id, name, email, role, calendar_token)"
                       " VALUES ($1, 'Ops', 'o@x.io', 'viewer', 'c')", str(uuid.uuid4()))
        assert accounts.setup_link(Settings(), url) is not None
        accounts.ensure_admin(url, _email(), "a password at last")
        assert accounts.setup_link(Settings(), url) is None
        assert run("fetchval", "SELECT count(*) FROM setup_tokens") == 3
