"""Logging in with e-mail and password: the session cookie, CSRF, logging out, passwords,
and the failed-login limits per account and per address."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.client import trigger
from tests.e2e.accounts import PASSWORD, log_in, logged_in, make_user, new_address, session_cookie
from tests.e2e.conftest import incidents_of, refused

WRONG = "the e-mail address or the password is wrong"


def _nobody() -> str:
    return f"nobody.{uuid.uuid4().hex[:10]}@example.com"


# -- the session ---------------------------------------------------------------------------------

def test_login_sets_an_httponly_strict_secure_cookie_and_gives_the_csrf_token(api, tocsin):
    user = make_user(api, "responder")
    response = log_in(tocsin.base_url, user["email"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {"id": user["id"], "name": user["name"], "email": user["email"], "role": "responder",
                            "teams": {}}
    assert len(body["csrf_token"]) >= 32
    cookie, attributes = session_cookie(response)
    assert len(cookie) >= 32
    assert "httponly" in attributes and "secure" in attributes
    assert attributes["samesite"].lower() == "strict"
    assert attributes["path"] == "/"
    assert attributes["max-age"] == str(12 * 3600)


def test_the_session_says_who_is_logged_in(api, tocsin, anonymous):
    user = make_user(api, "viewer")
    login = logged_in(tocsin.base_url, user)
    current = anonymous.get("/api/v1/session", headers=login.headers(csrf=False))
    assert current.status_code == 200, current.text
    assert current.json() == {"user": {"id": user["id"], "name": user["name"], "email": user["email"],
                                       "role": "viewer", "teams": {}}, "csrf_token": login.csrf_token}
    refused(anonymous.get("/api/v1/session"), 401, "log in")
    refused(anonymous.get("/api/v1/session", headers={"Cookie": "tocsin_session=made-up"}), 401, "log in again")


def test_with_the_cookie_reads_need_no_csrf_token_and_changes_do(api, tocsin, anonymous):
    login = logged_in(tocsin.base_url, make_user(api, "responder"))
    assert anonymous.get("/api/v1/incidents", headers=login.headers(csrf=False)).status_code == 200

    without = anonymous.post("/api/v1/tokens", json={"name": "ci"}, headers=login.headers(csrf=False))
    refused(without, 403, "CSRF", "X-CSRF-Token")
    wrong = anonymous.post("/api/v1/tokens", json={"name": "ci"},
                           headers={**login.headers(csrf=False), "X-CSRF-Token": "not-the-token"})
    refused(wrong, 403, "CSRF", "does not match")
    assert anonymous.post("/api/v1/tokens", json={"name": "ci"}, headers=login.headers()).status_code == 201

    refused(anonymous.post("/api/v1/incidents/999999999/acknowledge", headers=login.headers(csrf=False)), 403, "CSRF")
    refused(anonymous.post("/api/v1/incidents/999999999/acknowledge", headers=login.headers()), 404, "999999999")


def test_a_responder_acts_on_incidents_under_their_own_name(api, tocsin, anonymous, new_service):
    service = new_service()
    assert anonymous.post("/v2/enqueue", json=trigger(service.key, "disk")).status_code == 202
    [incident] = incidents_of(api, service.id)
    user = make_user(api, "responder", name=f"Rosa {uuid.uuid4().hex[:4]}")
    login = logged_in(tocsin.base_url, user)
    acked = anonymous.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=login.headers())
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged", acked.text
    timeline = api.get(f"/api/v1/incidents/{incident['id']}").json()["timeline"]
    assert ("acknowledged", f"api:{user['name']}") in [(e["kind"], e["actor"]) for e in timeline]


def test_logging_out_ends_the_session(api, tocsin, anonymous):
    login = logged_in(tocsin.base_url, make_user(api, "viewer"))
    refused(anonymous.delete("/api/v1/session", headers=login.headers(csrf=False)), 403, "CSRF")
    out = anonymous.delete("/api/v1/session", headers=login.headers())
    assert out.status_code == 204, out.text
    cleared = out.headers["set-cookie"].lower()
    assert cleared.startswith("tocsin_session=") and ("max-age=0" in cleared or "expires=" in cleared)
    refused(anonymous.get("/api/v1/session", headers=login.headers()), 401, "log in again")
    refused(anonymous.get("/api/v1/incidents", headers=login.headers()), 401)
    refused(anonymous.delete("/api/v1/session", headers=login.headers()), 401)


def test_a_changed_role_counts_at_the_next_request(api, tocsin, anonymous):
    user = make_user(api, "responder")
    login = logged_in(tocsin.base_url, user)
    assert anonymous.post("/api/v1/incidents/999999999/resolve", headers=login.headers()).status_code == 404
    assert api.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"}).status_code == 200
    refused(anonymous.post("/api/v1/incidents/999999999/resolve", headers=login.headers()), 403, "responder")
    assert api.delete(f"/api/v1/users/{user['id']}").status_code == 204
    refused(anonymous.get("/api/v1/incidents", headers=login.headers()), 401)


# -- refusals ------------------------------------------------------------------------------------

def test_a_wrong_password_and_an_unknown_account_get_the_same_401(api, tocsin):
    user = make_user(api, "responder")
    without_password = make_user(api, "responder", password=None)
    for email, password in ((user["email"], PASSWORD + "!"), (_nobody(), PASSWORD),
                            (without_password["email"], PASSWORD), (user["email"], "")):
        response = log_in(tocsin.base_url, email, password)
        if password:
            refused(response, 401, WRONG)
            assert "set-cookie" not in response.headers
        else:
            refused(response, 422, "password")


def test_the_email_address_matches_whatever_its_case(api, tocsin):
    user = make_user(api, "viewer")
    assert log_in(tocsin.base_url, "  " + user["email"].upper()).status_code == 200


@pytest.mark.parametrize(("body", "named"), [
    ({}, "email"),
    ({"email": "a@example.com"}, "password"),
    ({"email": "a@example.com", "password": "x" * 2000}, "password"),
    ({"email": "a@example.com", "password": "long enough", "remember": True}, "remember"),
    ({"email": ["a@example.com"], "password": "long enough"}, "email"),
])
def test_bad_login_bodies_are_422_naming_the_field(anonymous, body, named):
    refused(anonymous.post("/api/v1/session", json=body), 422, named)


def test_a_login_that_is_not_json_is_4xx(anonymous):
    response = anonymous.post("/api/v1/session", content=b"email=a&password=b",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= response.status_code < 500, response.text


# -- failed-login limits -------------------------------------------------------------------------

def test_five_failures_lock_the_account_for_a_while_even_with_the_right_password(api, tocsin):
    user = make_user(api, "responder")
    for _ in range(5):  # each from another address: the account's limit is what counts
        refused(log_in(tocsin.base_url, user["email"], "wrong password"), 401, WRONG)
    locked = log_in(tocsin.base_url, user["email"])
    refused(locked, 429, "too many failed logins for this account")
    assert 1 <= int(locked.headers["retry-after"]) <= 15 * 60
    # Another account, from the same addresses' range, is not affected.
    assert log_in(tocsin.base_url, make_user(api, "viewer")["email"]).status_code == 200


def test_an_account_nobody_has_is_locked_the_same_way(tocsin):
    email = _nobody()
    for _ in range(5):
        refused(log_in(tocsin.base_url, email, "wrong password"), 401, WRONG)
    refused(log_in(tocsin.base_url, email, "wrong password"), 429, "for this account")


def test_twenty_failures_from_one_address_lock_that_address_and_no_other(api, tocsin):
    address = new_address()
    for _ in range(20):
        refused(log_in(tocsin.base_url, _nobody(), "wrong password", address=address), 401, WRONG)
    user = make_user(api, "viewer")
    blocked = log_in(tocsin.base_url, user["email"], address=address)
    refused(blocked, 429, "from this address")
    assert int(blocked.headers["retry-after"]) >= 1
    # The same user, from another machine, is told apart from the flood.
    assert log_in(tocsin.base_url, user["email"], address=new_address()).status_code == 200


def test_a_client_cannot_pick_its_address_with_x_forwarded_for(api, tocsin):
    flooder, bystander = new_address(), new_address()
    for _ in range(20):  # each under another made-up address
        refused(log_in(tocsin.base_url, _nobody(), "wrong password", address=flooder,
                       headers={"X-Forwarded-For": new_address()}), 401, WRONG)
    user = make_user(api, "viewer")
    refused(log_in(tocsin.base_url, user["email"], address=flooder, headers={"X-Forwarded-For": bystander}),
            429, "from this address")
    # Nor can a client pass for the locked address and be refused in its place.
    assert log_in(tocsin.base_url, user["email"], address=bystander,
                  headers={"X-Forwarded-For": f"{flooder}, {flooder}"}).status_code == 200


def test_guesses_sent_at_once_check_no_more_passwords_than_the_accounts_limit(api, tocsin, db):
    user, address = make_user(api, "responder"), new_address()
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda _: log_in(tocsin.base_url, user["email"], "wrong password", address=address),
                                range(30)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 25, statuses  # 401: a password checked
    assert db("fetchval", "SELECT count(*) FROM login_failures WHERE account = $1", user["email"]) == 5
    refused(log_in(tocsin.base_url, user["email"]), 429, "for this account")


def test_a_successful_login_clears_the_accounts_failures(api, tocsin):
    user = make_user(api, "viewer")
    for _ in range(4):
        log_in(tocsin.base_url, user["email"], "wrong password")
    assert log_in(tocsin.base_url, user["email"]).status_code == 200
    for _ in range(4):
        refused(log_in(tocsin.base_url, user["email"], "wrong password"), 401, WRONG)
    assert log_in(tocsin.base_url, user["email"]).status_code == 200


# -- passwords -----------------------------------------------------------------------------------

def test_users_change_their_own_password_with_the_current_one(api, tocsin, anonymous):
    user = make_user(api, "viewer")
    here, elsewhere = logged_in(tocsin.base_url, user), logged_in(tocsin.base_url, user)
    path = f"/api/v1/users/{user['id']}/password"
    refused(anonymous.put(path, json={"password": "a new password"}, headers=here.headers()), 422, "current_password")
    refused(anonymous.put(path, json={"password": "a new password", "current_password": "not it"},
                          headers=here.headers()), 403, "current_password")
    refused(anonymous.put(path, json={"password": "short", "current_password": PASSWORD}, headers=here.headers()),
            422, "password")
    changed = anonymous.put(path, json={"password": "a new password", "current_password": PASSWORD},
                            headers=here.headers())
    assert changed.status_code == 204, changed.text
    # This session goes on; the other one has ended; the new password logs in, the old one not.
    assert anonymous.get("/api/v1/session", headers=here.headers()).status_code == 200
    refused(anonymous.get("/api/v1/session", headers=elsewhere.headers()), 401)
    assert log_in(tocsin.base_url, user["email"], "a new password").status_code == 200
    refused(log_in(tocsin.base_url, user["email"]), 401, WRONG)


def test_only_an_admin_sets_another_users_password(api, tocsin, anonymous):
    user, other = make_user(api, "responder"), make_user(api, "responder", password=None)
    login = logged_in(tocsin.base_url, user)
    path = f"/api/v1/users/{other['id']}/password"
    refused(anonymous.put(path, json={"password": "chosen by me", "current_password": PASSWORD},
                          headers=login.headers()), 403, "admin")
    assert api.put(path, json={"password": "set by an admin"}).status_code == 204
    assert log_in(tocsin.base_url, other["email"], "set by an admin").status_code == 200
    refused(api.put(f"/api/v1/users/{uuid.uuid4()}/password", json={"password": "set by an admin"}), 404)


def test_a_user_created_with_too_short_a_password_is_refused(api):
    refused(api.post("/api/v1/users", json={"name": "Shorty", "email": _nobody(), "password": "1234567"}),
            422, "password")


def test_the_password_is_never_shown(api):
    user = make_user(api, "viewer")
    assert "password" not in user and "password_hash" not in user
    listed = api.get("/api/v1/users").text
    assert "argon2" not in listed and PASSWORD not in listed

