"""Personal API tokens: made with a session, used as a bearer with the owner's role,
listed without the secret, revoked or expired (then 401)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.accounts import logged_in, make_user, personal_token
from tests.e2e.conftest import refused


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_shown_once_and_acts_as_its_owner(api, tocsin, anonymous):
    login = logged_in(tocsin.base_url, make_user(api, "responder"))
    created = anonymous.post("/api/v1/tokens", json={"name": "deploy bot"}, headers=login.headers())
    assert created.status_code == 201, created.text
    token = created.json()
    assert set(token) == {"id", "name", "prefix", "token", "created_at", "expires_at", "team_id", "team_role"}
    assert token["expires_at"] is None  # none asked for: until revoked
    assert token["token"].startswith("tcs_") and token["prefix"] == token["token"][:10]

    # A bearer token is no cookie: changes need no CSRF token.
    assert anonymous.get("/api/v1/incidents", headers=_bearer(token["token"])).status_code == 200
    refused(anonymous.post("/api/v1/incidents/999999999/acknowledge", headers=_bearer(token["token"])), 404)
    refused(anonymous.post("/api/v1/services", json={"name": "x"}, headers=_bearer(token["token"])), 403, "admin")

    [listed] = anonymous.get("/api/v1/tokens", headers=login.headers()).json()["tokens"]
    assert listed["id"] == token["id"] and listed["prefix"] == token["prefix"] and "token" not in listed
    assert listed["last_used_at"] is not None


def test_a_revoked_token_is_refused_with_401(api, tocsin, anonymous):
    login = logged_in(tocsin.base_url, make_user(api, "viewer"))
    token = personal_token(tocsin.base_url, login)
    [listed] = anonymous.get("/api/v1/tokens", headers=_bearer(token)).json()["tokens"]
    revoked = anonymous.delete(f"/api/v1/tokens/{listed['id']}", headers=login.headers())
    assert revoked.status_code == 204, revoked.text
    refused(anonymous.get("/api/v1/incidents", headers=_bearer(token)), 401, "unknown or revoked")
    assert anonymous.get("/api/v1/tokens", headers=login.headers()).json()["tokens"] == []
    refused(anonymous.delete(f"/api/v1/tokens/{listed['id']}", headers=login.headers()), 404, listed["id"])


def test_tokens_are_their_owners_alone(api, tocsin, anonymous):
    owner = logged_in(tocsin.base_url, make_user(api, "admin"))
    other = logged_in(tocsin.base_url, make_user(api, "admin"))
    token = personal_token(tocsin.base_url, owner)
    [listed] = anonymous.get("/api/v1/tokens", headers=owner.headers()).json()["tokens"]
    assert anonymous.get("/api/v1/tokens", headers=other.headers()).json()["tokens"] == []
    refused(anonymous.delete(f"/api/v1/tokens/{listed['id']}", headers=other.headers()), 404)
    assert anonymous.get("/api/v1/users", headers=_bearer(token)).status_code == 200


def test_a_token_follows_its_owners_role_and_goes_with_them(api, tocsin, anonymous):
    user = make_user(api, "responder")
    token = personal_token(tocsin.base_url, logged_in(tocsin.base_url, user))
    assert api.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"}).status_code == 200
    refused(anonymous.post("/api/v1/incidents/999999999/resolve", headers=_bearer(token)), 403, "responder")
    assert api.delete(f"/api/v1/users/{user['id']}").status_code == 204
    refused(anonymous.get("/api/v1/incidents", headers=_bearer(token)), 401)


def test_the_admin_token_has_no_personal_tokens(api):
    refused(api.post("/api/v1/tokens", json={"name": "x"}), 403, "log in")
    refused(api.get("/api/v1/tokens"), 403, "log in")


def test_bad_token_requests_name_the_problem(api, tocsin, anonymous):
    login = logged_in(tocsin.base_url, make_user(api, "viewer"))
    refused(anonymous.post("/api/v1/tokens", json={}, headers=login.headers()), 422, "name")
    refused(anonymous.post("/api/v1/tokens", json={"name": "x" * 300}, headers=login.headers()), 422, "name")
    refused(anonymous.delete("/api/v1/tokens/not-an-id", headers=login.headers()), 422, "token_id")


def test_a_token_made_to_expire_is_refused_with_401_once_it_has(api, tocsin, anonymous, db):
    login = logged_in(tocsin.base_url, make_user(api, "responder"))
    asked_at = datetime.now(timezone.utc)
    created = anonymous.post("/api/v1/tokens", json={"name": "release bot", "expires_in_days": 7},
                             headers=login.headers())
    assert created.status_code == 201, created.text
    token = created.json()
    expires_at = datetime.fromisoformat(token["expires_at"])
    assert asked_at + timedelta(days=7) <= expires_at <= datetime.now(timezone.utc) + timedelta(days=7)
    [listed] = anonymous.get("/api/v1/tokens", headers=login.headers()).json()["tokens"]
    assert listed["expires_at"] == token["expires_at"]
    assert anonymous.get("/api/v1/incidents", headers=_bearer(token["token"])).status_code == 200

    # A week on: the expiry is moved to a second ago rather than waited for.
    db("execute", "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", token["id"])

    refused(anonymous.get("/api/v1/incidents", headers=_bearer(token["token"])), 401, "expired")
    [still_listed] = anonymous.get("/api/v1/tokens", headers=login.headers()).json()["tokens"]
    assert still_listed["id"] == token["id"]  # its owner sees why it stopped working


def test_a_token_may_expire_at_an_instant(api, tocsin, anonymous):
    login = logged_in(tocsin.base_url, make_user(api, "viewer"))
    at = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0)
    created = anonymous.post("/api/v1/tokens", json={"name": "an hour", "expires_at": at.isoformat()},
                             headers=login.headers())
    assert created.status_code == 201, created.text
    assert datetime.fromisoformat(created.json()["expires_at"]) == at
    assert anonymous.get("/api/v1/incidents", headers=_bearer(created.json()["token"])).status_code == 200


@pytest.mark.parametrize("expiry, names", [
    ({"expires_at": "2020-01-01T00:00:00Z"}, ["expires_at", "future"]),
    ({"expires_at": "2030-01-01T00:00:00"}, ["expires_at"]),  # no UTC offset
    ({"expires_in_days": 0}, ["expires_in_days"]),
    ({"expires_in_days": 1, "expires_at": "2030-01-01T00:00:00Z"}, ["not both"]),
])
def test_an_expiry_that_cannot_be_is_refused_with_422(api, tocsin, anonymous, expiry, names):
    login = logged_in(tocsin.base_url, make_user(api, "viewer"))
    response = anonymous.post("/api/v1/tokens", json={"name": "bad", **expiry}, headers=login.headers())
    refused(response, 422, *names)
    assert anonymous.get("/api/v1/tokens", headers=login.headers()).json()["tokens"] == []
