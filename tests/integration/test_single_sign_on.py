"""Single sign-on under settings the shared test deployment does not have (passwords for
break-glass users only; users admitted only when they exist already), and an ID token whose
nonce is not this sign-in's: the gateway's app in-process against a real OpenID Connect
provider on loopback (tests/fakes/oidc_provider.py), on the run's database. No Ray."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from tests.e2e.accounts import session_cookie
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, GROUP_MAP, FakeIdentityProvider
from tests.integration.in_process import gateway

pytestmark = pytest.mark.timeout(60)

ADMIN_TOKEN = "sso-tests-admin-token-" + uuid.uuid4().hex
PASSWORD = "a password long enough"


@pytest.fixture(scope="module")
def idp() -> Any:
    with FakeIdentityProvider() as provider:
        yield provider


def settings_for(idp: FakeIdentityProvider, **more: Any) -> dict[str, Any]:
    return {"oidc_discovery_url": idp.discovery_url, "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET, "oidc_group_map": json.dumps(GROUP_MAP), **more}


async def sign_in(http: httpx.AsyncClient, idp: FakeIdentityProvider, subject: str,
                  on_the_way: Callable[[str], str] = lambda url: url) -> httpx.Response:
    """The login button, the provider's page as `subject` (its URL passed through `on_the_way`),
    and the callback in the same browser."""
    start = await http.get("/api/v1/sso/login")
    assert start.status_code == 303, start.text
    browser, _ = session_cookie(start, "tocsin_sso")
    back = httpx.URL(idp.authorize(on_the_way(start.headers["location"]), subject))
    return await http.get(back.raw_path.decode(), headers={"Cookie": f"tocsin_sso={browser}"})


def new_identity(idp: FakeIdentityProvider, *groups: str, email: str | None = None) -> tuple[str, str]:
    subject, email = f"sub-{uuid.uuid4().hex[:12]}", email or f"sso.{uuid.uuid4().hex[:10]}@example.com"
    idp.set_user(subject, {"email": email, "name": "Sam Sso", "groups": list(groups)})
    return subject, email


async def new_user(http: httpx.AsyncClient, role: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Pat", "email": f"pat.{uuid.uuid4().hex[:10]}@example.com", "role": role, **fields}
    created = await http.post("/api/v1/users", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


@pytest.fixture
async def break_glass_mode(database_url: str, idp: FakeIdentityProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(database_url, ADMIN_TOKEN, **settings_for(idp, local_passwords="break-glass")) as http:
        yield http


async def test_with_break_glass_passwords_only_break_glass_users_log_in_with_one(break_glass_mode, idp):
    http = break_glass_mode
    everyday = await new_user(http, "admin", password=PASSWORD)
    keeper = await new_user(http, "admin", password=PASSWORD, break_glass=True)
    assert keeper["break_glass"] is True and everyday["break_glass"] is False

    refused = await http.post("/api/v1/session", json={"email": everyday["email"], "password": PASSWORD})
    assert refused.status_code == 403, refused.text
    assert "break-glass" in refused.json()["message"] and "single sign-on" in refused.json()["message"]
    # A wrong password learns nothing of whether the account could have used a right one.
    wrong = await http.post("/api/v1/session", json={"email": everyday["email"], "password": "not the password"})
    assert wrong.status_code == 401, wrong.text
    allowed = await http.post("/api/v1/session", json={"email": keeper["email"], "password": PASSWORD})
    assert allowed.status_code == 200, allowed.text

    status = await http.get("/api/v1/sso")
    assert status.json() == {"enabled": True, "login_url": "/api/v1/sso/login", "local_passwords": "break-glass"}


async def test_a_break_glass_user_keeps_their_role_whatever_their_groups(break_glass_mode, idp):
    http = break_glass_mode
    keeper = await new_user(http, "admin", password=PASSWORD, break_glass=True)
    subject, _ = new_identity(idp, "tocsin-responders", email=keeper["email"])
    signed_in = await sign_in(http, idp, subject)
    assert signed_in.status_code == 303, signed_in.text
    user = (await http.get(f"/api/v1/users/{keeper['id']}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).json()
    assert user["role"] == "admin" and user["single_sign_on"] is True


@pytest.fixture
async def existing_only(database_url: str, idp: FakeIdentityProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(database_url, ADMIN_TOKEN, **settings_for(idp, oidc_provisioning="existing")) as http:
        yield http


async def test_when_users_are_not_created_only_existing_ones_sign_in(existing_only, idp, db):
    http = existing_only
    stranger, email = new_identity(idp, "tocsin-admins")
    refused = await sign_in(http, idp, stranger)
    assert refused.status_code == 403, refused.text
    assert email in refused.json()["message"] and "ask an admin" in refused.json()["message"]
    assert await db_count(db, email) == 0

    known = await new_user(http, "viewer")
    subject, _ = new_identity(idp, "tocsin-admins", email=known["email"].upper())
    signed_in = await sign_in(http, idp, subject)
    assert signed_in.status_code == 303, signed_in.text
    linked = db("fetchrow", "SELECT role, oidc_subject FROM users WHERE id = $1::uuid", known["id"])
    assert dict(linked) == {"role": "admin", "oidc_subject": subject}
    # Linked for good: found by the subject even once the provider tells another address.
    idp.set_user(subject, {"email": "moved.elsewhere@example.com", "groups": []})
    again = await sign_in(http, idp, subject)
    assert again.status_code == 303, again.text
    assert db("fetchval", "SELECT role FROM users WHERE id = $1::uuid", known["id"]) == "viewer"


async def db_count(db: Callable[..., Any], email: str) -> int:
    return int(db("fetchval", "SELECT count(*) FROM users WHERE lower(email) = lower($1)", email))


@pytest.fixture
async def usual(database_url: str, idp: FakeIdentityProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(database_url, ADMIN_TOKEN, **settings_for(idp)) as http:
        yield http


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), **changes})))


async def test_an_id_token_carrying_another_nonce_is_refused(usual, idp, db):
    subject, email = new_identity(idp, "tocsin-admins")
    # The nonce the provider puts in its ID token is not the one this sign-in sent.
    forged = await sign_in(usual, idp, subject, lambda url: with_query(url, nonce="a-nonce-of-another-sign-in"))
    assert forged.status_code == 400, forged.text
    assert "nonce" in forged.json()["message"]
    assert await db_count(db, email) == 0


async def test_a_provider_that_cannot_be_reached_is_a_502(database_url):
    settings = {"oidc_discovery_url": "http://127.0.0.1:1/.well-known/openid-configuration",
                "oidc_client_id": CLIENT_ID}
    async with gateway(database_url, ADMIN_TOKEN, **settings) as http:
        response = await http.get("/api/v1/sso/login")
    assert response.status_code == 502, response.text
    assert "discovery document" in response.json()["message"]


async def test_without_single_sign_on_its_routes_say_it_is_not_configured(database_url):
    async with gateway(database_url, ADMIN_TOKEN) as http:
        assert (await http.get("/api/v1/sso")).json() == {"enabled": False, "login_url": None,
                                                         "local_passwords": "on"}
        for path in ("/api/v1/sso/login", "/api/v1/sso/callback?state=s&code=c"):
            response = await http.get(path)
            assert response.status_code == 404, response.text
            assert "not configured" in response.json()["message"]
