"""Single sign-on over HTTP against `tocsin up` and a real OpenID Connect provider on loopback
(tests/fakes/oidc_provider.py; the test deployment maps tocsin-admins to admin,
tocsin-responders to responder and payments-oncall to responder in the payments team).

A browser is played by httpx: the login button's redirect, the provider's page pressed as a
subject, and the way back to the callback with the sign-in cookie, passed on by hand (it is
Secure, which httpx never sends over plain http).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.accounts import COOKIE, client_at, make_user, session_cookie
from tests.e2e.conftest import refused
from tests.fakes.oidc_provider import FakeIdentityProvider

SIGN_IN_COOKIE = "tocsin_sso"


@dataclass(frozen=True)
class Started:
    """A sign-in sent to the provider: where to, and the cookie that binds it to its browser."""

    authorization_url: str
    browser: str


@dataclass(frozen=True)
class Back:
    """The provider's way back, and Tocsin's answer to it."""

    callback: str
    browser: str
    answer: httpx.Response


def start(client: httpx.Client, next_page: str | None = None) -> Started:
    response = client.get("/api/v1/sso/login", params={"next": next_page} if next_page else None)
    assert response.status_code == 303, response.text
    browser, attributes = session_cookie(response, SIGN_IN_COOKIE)
    assert "httponly" in attributes and attributes["samesite"] == "lax" and attributes["path"] == "/api/v1/sso"
    return Started(response.headers["location"], browser)


def come_back(client: httpx.Client, callback: str, browser: str | None) -> httpx.Response:
    cookie = {"Cookie": f"{SIGN_IN_COOKIE}={browser}"} if browser else {}
    return client.get(callback, headers=cookie)


def sign_in(client: httpx.Client, idp: FakeIdentityProvider, subject: str, next_page: str | None = None) -> Back:
    started = start(client, next_page)
    callback = idp.authorize(started.authorization_url, subject)
    return Back(callback, started.browser, come_back(client, callback, started.browser))


def new_identity(idp: FakeIdentityProvider, *groups: str, email: str | None = None) -> tuple[str, str]:
    subject, email = f"sub-{uuid.uuid4().hex[:12]}", email or f"sso.{uuid.uuid4().hex[:10]}@example.com"
    idp.set_user(subject, {"email": email, "name": "Sam Sso", "groups": list(groups)})
    return subject, email


@pytest.fixture
def browser(tocsin: Any) -> Any:
    with client_at(tocsin.base_url) as client:
        yield client


def signed_in_as(client: httpx.Client, back: Back) -> dict[str, Any]:
    """The session the callback started, as GET /api/v1/session tells it."""
    assert back.answer.status_code == 303, back.answer.text
    cookie, _ = session_cookie(back.answer)
    session = client.get("/api/v1/session", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert session.status_code == 200, session.text
    return {**session.json(), "cookie": cookie}


def test_the_login_page_is_told_single_sign_on_is_on(anonymous):
    assert anonymous.get("/api/v1/sso").json() == {"enabled": True, "login_url": "/api/v1/sso/login",
                                                   "local_passwords": "on"}


def test_a_first_sign_in_creates_the_user_with_the_role_their_groups_map_to(api, browser, fake_idp):
    subject, email = new_identity(fake_idp, "tocsin-responders", "payments-oncall", "unmapped-group")
    back = sign_in(browser, fake_idp, subject)
    assert back.answer.headers["location"] == "/ui/incidents"
    session = signed_in_as(browser, back)
    assert session["user"]["email"] == email and session["user"]["role"] == "responder"
    [user] = [u for u in api.get("/api/v1/users").json()["users"] if u["email"] == email]
    assert user["name"] == "Sam Sso" and user["single_sign_on"] is True and user["break_glass"] is False
    # The sign-in cookie is spent: cleared on the answer.
    assert session_cookie(back.answer, SIGN_IN_COOKIE)[0] in ("", '""')


def test_a_session_from_single_sign_on_is_one_as_a_password_gives(browser, fake_idp):
    subject, _ = new_identity(fake_idp, "tocsin-responders")
    back = sign_in(browser, fake_idp, subject)
    session = signed_in_as(browser, back)
    _, attributes = session_cookie(back.answer)
    assert {"httponly", "secure"} <= set(attributes) and attributes["samesite"] == "strict"
    assert attributes["path"] == "/" and int(attributes["max-age"]) == 12 * 3600
    cookie = {"Cookie": f"{COOKIE}={session['cookie']}"}
    refused(browser.delete("/api/v1/session", headers=cookie), 403, "X-CSRF-Token")
    assert browser.delete("/api/v1/session", headers={**cookie, "X-CSRF-Token": session["csrf_token"]}
                          ).status_code == 204
    refused(browser.get("/api/v1/session", headers=cookie), 401, "ended")


def test_group_changes_apply_at_the_next_sign_in(browser, fake_idp):
    subject, email = new_identity(fake_idp, "tocsin-responders")
    first = signed_in_as(browser, sign_in(browser, fake_idp, subject))
    assert first["user"]["role"] == "responder"

    fake_idp.set_user(subject, {"email": email, "groups": ["tocsin-admins"]})
    second = signed_in_as(browser, sign_in(browser, fake_idp, subject))
    assert second["user"]["id"] == first["user"]["id"] and second["user"]["role"] == "admin"

    fake_idp.set_user(subject, {"email": email, "groups": []})  # out of every mapped group: the default role
    third = signed_in_as(browser, sign_in(browser, fake_idp, subject))
    assert third["user"]["role"] == "viewer"
    # Sessions read the user's role as it is now: the first session is a viewer's too.
    assert browser.get("/api/v1/session", headers={"Cookie": f"{COOKIE}={first['cookie']}"}
                       ).json()["user"]["role"] == "viewer"


def test_a_user_added_by_an_admin_is_found_by_e_mail_at_their_first_sign_in(api, browser, fake_idp):
    known = make_user(api, "viewer", password=None)
    subject, _ = new_identity(fake_idp, "tocsin-admins", email=known["email"])
    session = signed_in_as(browser, sign_in(browser, fake_idp, subject))
    assert session["user"]["id"] == known["id"] and session["user"]["role"] == "admin"
    # Once linked, the address is no way in for another identity of the provider.
    other, _ = new_identity(fake_idp, "tocsin-admins", email=known["email"])
    refused(sign_in(browser, fake_idp, other).answer, 403, "another identity")


def test_a_forged_state_is_refused(browser, fake_idp):
    started = start(browser)
    callback = fake_idp.authorize(started.authorization_url, new_identity(fake_idp, "tocsin-admins")[0])
    forged = httpx.URL(callback).copy_set_param("state", "a-state-made-up-by-someone-else")
    refused(come_back(browser, str(forged), started.browser), 400, "unknown or was already used")
    refused(come_back(browser, "/api/v1/sso/callback?code=c", started.browser), 400, "without its state")


def test_a_replayed_callback_is_refused(browser, fake_idp):
    subject, _ = new_identity(fake_idp, "tocsin-admins")
    back = sign_in(browser, fake_idp, subject)
    assert back.answer.status_code == 303, back.answer.text
    replayed = come_back(browser, back.callback, back.browser)
    refused(replayed, 400, "unknown or was already used")
    assert COOKIE not in replayed.headers.get("set-cookie", "")


def test_a_callback_in_another_browser_than_the_one_that_started_is_refused(fake_idp, tocsin):
    subject, email = new_identity(fake_idp, "tocsin-admins")
    with client_at(tocsin.base_url) as victim, client_at(tocsin.base_url) as attacker:
        started = start(victim)
        callback = fake_idp.authorize(started.authorization_url, subject)
        refused(come_back(attacker, callback, None), 400, "another browser")
        refused(come_back(attacker, callback, start(attacker).browser), 400, "another browser")
        # Left for the browser that started it.
        assert signed_in_as(victim, Back(callback, started.browser, come_back(victim, callback, started.browser))
                            )["user"]["email"] == email


def test_the_provider_saying_no_is_a_refusal_that_says_so(browser, fake_idp):
    started = start(browser)
    refused(come_back(browser, fake_idp.deny(started.authorization_url), started.browser), 400, "access_denied")


@pytest.mark.parametrize(("asked", "lands"), [
    ("/ui/oncall", "/ui/oncall"),
    ("https://elsewhere.example/ui/incidents", "/ui/incidents"),
    ("//elsewhere.example/ui/x", "/ui/incidents"),
])
def test_the_sign_in_lands_on_the_page_asked_for_on_the_dashboard_only(browser, fake_idp, asked, lands):
    back = sign_in(browser, fake_idp, new_identity(fake_idp, "tocsin-responders")[0], next_page=asked)
    assert back.answer.status_code == 303 and back.answer.headers["location"] == lands
