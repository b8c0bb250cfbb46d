"""Personal API tokens: made with a session, used as a bearer with the owner's role,
listed without the secret, revoked (then 401)."""

from __future__ import annotations

from tests.e2e.accounts import logged_in, make_user, personal_token
from tests.e2e.conftest import refused


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_shown_once_and_acts_as_its_owner(api, tocsin, anonymous):
    login = logged_in(tocsin.base_url, make_user(api, "responder"))
    created = anonymous.post("/api/v1/tokens", json={"name": "deploy bot"}, headers=login.headers())
    assert created.status_code == 201, created.text
    token = created.json()
    assert set(token) == {"id", "name", "prefix", "token", "created_at"}
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
