"""Users, their contact methods and notification rules through the REST API."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest

from tests.e2e.conftest import refused

MISSING = str(uuid.uuid4())


def _email() -> str:
    return f"u.{uuid.uuid4().hex[:10]}@example.com"


def _user(api, name="Ada", **fields):
    response = api.post("/api/v1/users", json={"name": name, "email": _email(), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def _method(api, user_id, kind="sms", address="+14155550123", **fields):
    response = api.post(f"/api/v1/users/{user_id}/contact-methods", json={"kind": kind, "address": address, **fields})
    assert response.status_code == 201, response.text
    return response.json()


# -- users ------------------------------------------------------------------------------------

def test_user_crud(api, tocsin):
    email = _email()
    created = api.post("/api/v1/users", json={"name": "Grace Hopper", "email": email})
    assert created.status_code == 201, created.text
    user = created.json()
    assert user | {"id": None, "calendar_url": None, "created_at": None, "updated_at": None} == {
        "id": None, "name": "Grace Hopper", "email": email, "time_zone": "UTC", "role": "responder",
        "calendar_url": None, "created_at": None, "updated_at": None, "slack_user_id": None, "break_glass": False,
        "single_sign_on": False,
    }
    feed = re.fullmatch(re.escape(f"{tocsin.base_url}/api/v1/users/{user['id']}/oncall.ics?token=") + r"([\w-]{32})",
                        user["calendar_url"])
    assert feed, user["calendar_url"]
    assert api.get(f"/api/v1/users/{user['id']}").json() == user

    updated = api.patch(f"/api/v1/users/{user['id']}", json={"time_zone": "Europe/Paris", "role": "admin"})
    assert updated.status_code == 200, updated.text
    assert updated.json() | {"updated_at": None} == user | {"time_zone": "Europe/Paris", "role": "admin",
                                                             "updated_at": None}
    assert datetime.fromisoformat(updated.json()["updated_at"]) > datetime.fromisoformat(user["updated_at"])

    assert api.delete(f"/api/v1/users/{user['id']}").status_code == 204
    refused(api.get(f"/api/v1/users/{user['id']}"), 404, user["id"])
    refused(api.delete(f"/api/v1/users/{user['id']}"), 404, user["id"])


def test_calendar_tokens_differ(api):
    first, second = _user(api), _user(api)
    assert first["calendar_url"].split("token=")[1] != second["calendar_url"].split("token=")[1]


def test_users_are_listed_by_name(api):
    tag = uuid.uuid4().hex[:8]
    for name in (f"{tag} carol", f"{tag} alice", f"{tag} bob"):
        _user(api, name)
    listed = [u["name"] for u in api.get("/api/v1/users").json()["users"] if u["name"].startswith(tag)]
    assert listed == [f"{tag} alice", f"{tag} bob", f"{tag} carol"]


def test_patch_null_leaves_a_field_as_it_is(api):
    user = _user(api, time_zone="Asia/Tokyo")
    updated = api.patch(f"/api/v1/users/{user['id']}", json={"time_zone": None, "name": "Ada L."}).json()
    assert (updated["time_zone"], updated["name"]) == ("Asia/Tokyo", "Ada L.")


BAD_USERS = [
    ("no name", {"email": "a@example.com"}, "name"),
    ("empty name", {"name": "", "email": "a@example.com"}, "name"),
    ("no email", {"name": "A"}, "email"),
    ("bad email", {"name": "A", "email": "not-an-address"}, "email"),
    ("unknown zone", {"name": "A", "email": "a@example.com", "time_zone": "Mars/Olympus"}, "time_zone"),
    ("zone folder", {"name": "A", "email": "a@example.com", "time_zone": "America"}, "time_zone"),
    ("zone path", {"name": "A", "email": "a@example.com", "time_zone": "../../etc/passwd"}, "time_zone"),
    ("bad role", {"name": "A", "email": "a@example.com", "role": "owner"}, "role"),
    ("unknown field", {"name": "A", "email": "a@example.com", "phone": "+1"}, "phone"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in BAD_USERS], ids=[c[0] for c in BAD_USERS])
def test_bad_user_is_refused(api, body, field):
    refused(api.post("/api/v1/users", json=body), 422, field)


@pytest.mark.parametrize(("body", "field"), [({"time_zone": "Nowhere/City"}, "time_zone"),
                                             ({"email": "x@"}, "email"), ({"role": "root"}, "role"),
                                             ({"id": MISSING}, "id")])
def test_bad_user_patch_is_refused(api, body, field):
    user = _user(api)
    refused(api.patch(f"/api/v1/users/{user['id']}", json=body), 422, field)
    assert api.get(f"/api/v1/users/{user['id']}").json() == user


def test_email_is_unique_whatever_its_case(api):
    user = _user(api)
    twin = {"name": "Twin", "email": user["email"].upper()}
    refused(api.post("/api/v1/users", json=twin), 409, twin["email"])
    other = _user(api)
    refused(api.patch(f"/api/v1/users/{other['id']}", json={"email": user["email"]}), 409, user["email"])
    assert api.get(f"/api/v1/users/{other['id']}").json()["email"] == other["email"]


def test_unknown_user_is_404(api):
    refused(api.get(f"/api/v1/users/{MISSING}"), 404, MISSING)
    refused(api.patch(f"/api/v1/users/{MISSING}", json={"name": "x"}), 404, MISSING)
    refused(api.get(f"/api/v1/users/{MISSING}/contact-methods"), 404, MISSING)
    refused(api.post(f"/api/v1/users/{MISSING}/contact-methods", json={"kind": "push", "address": "t"}), 404, MISSING)
    refused(api.get(f"/api/v1/users/{MISSING}/notification-rules"), 404, MISSING)
    refused(api.post(f"/api/v1/users/{MISSING}/notification-rules",
                     json={"contact_method_id": MISSING, "urgency": "high", "delay_minutes": 0}), 404, MISSING)
    refused(api.get("/api/v1/users/not-a-uuid"), 422, "user_id")


# -- contact methods --------------------------------------------------------------------------

GOOD_ADDRESSES = [
    ("sms", "+14155550123"), ("voice", "+442079460000"), ("email", "oncall@example.com"),
    # Loopback, which the test deployment allows: a public name would need the internet's DNS.
    ("slack", "http://127.0.0.1:9/services/T0/B0/x"), ("webhook", "http://127.0.0.1:9/hook"),
    ("push", "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/5e3e9847"),
]


def test_contact_method_crud(api):
    user = _user(api)
    made = [_method(api, user["id"], kind, address, label=kind) for kind, address in GOOD_ADDRESSES]
    first = made[0]
    assert first | {"id": None, "created_at": None} == {
        "id": None, "user_id": user["id"], "kind": "sms", "address": "+14155550123", "label": "sms",
        "verified": False, "created_at": None,
    }
    listed = api.get(f"/api/v1/users/{user['id']}/contact-methods").json()["contact_methods"]
    assert listed == made

    path = f"/api/v1/users/{user['id']}/contact-methods/{first['id']}"
    verified = api.patch(path, json={"verified": True, "label": "mobile"})
    assert verified.status_code == 200, verified.text
    assert verified.json() == first | {"verified": True, "label": "mobile"}
    moved = api.patch(path, json={"address": "+14155550199"}).json()
    assert moved == first | {"address": "+14155550199", "label": "mobile", "verified": False}

    assert api.delete(path).status_code == 204
    refused(api.delete(path), 404, first["id"])
    refused(api.patch(path, json={"label": "x"}), 404, first["id"])
    left = api.get(f"/api/v1/users/{user['id']}/contact-methods").json()["contact_methods"]
    assert left == made[1:]


def test_contact_methods_of_another_user_are_not_found(api):
    owner, other = _user(api), _user(api)
    method = _method(api, owner["id"])
    path = f"/api/v1/users/{other['id']}/contact-methods/{method['id']}"
    refused(api.patch(path, json={"label": "mine now"}), 404, method["id"])
    refused(api.delete(path), 404, method["id"])
    assert api.get(f"/api/v1/users/{owner['id']}/contact-methods").json()["contact_methods"] == [method]


BAD_METHODS = [
    ("sms without plus", {"kind": "sms", "address": "4155550123"}, "address"),
    ("sms with spaces", {"kind": "sms", "address": "+1 415 555 0123"}, "address"),
    ("voice leading zero", {"kind": "voice", "address": "+0123456789"}, "address"),
    ("email without at", {"kind": "email", "address": "oncall.example.com"}, "address"),
    ("slack not http", {"kind": "slack", "address": "ftp://hooks.slack.com/x"}, "address"),
    ("webhook not a URL", {"kind": "webhook", "address": "somewhere"}, "address"),
    ("webhook without host", {"kind": "webhook", "address": "https://"}, "address"),
    ("push blank", {"kind": "push", "address": "   "}, "address"),
    ("empty address", {"kind": "push", "address": ""}, "address"),
    ("unknown kind", {"kind": "pigeon", "address": "roof"}, "kind"),
    ("verified not a bool", {"kind": "push", "address": "t", "verified": "perhaps"}, "verified"),
    ("unknown field", {"kind": "push", "address": "t", "priority": 1}, "priority"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in BAD_METHODS], ids=[c[0] for c in BAD_METHODS])
def test_bad_contact_method_is_refused(api, body, field):
    user = _user(api)
    refused(api.post(f"/api/v1/users/{user['id']}/contact-methods", json=body), 422, field)
    assert api.get(f"/api/v1/users/{user['id']}/contact-methods").json()["contact_methods"] == []


@pytest.mark.parametrize(("kind", "address"), [("sms", "555-0123"), ("email", "nobody"), ("webhook", "http://[::1")])
def test_patch_checks_the_address_against_the_kind(api, kind, address):
    user = _user(api)
    method = _method(api, user["id"], kind, dict(GOOD_ADDRESSES)[kind])
    path = f"/api/v1/users/{user['id']}/contact-methods/{method['id']}"
    refused(api.patch(path, json={"address": address}), 422, "address")
    refused(api.patch(path, json={"kind": "push"}), 422, "kind")
    assert api.get(f"/api/v1/users/{user['id']}/contact-methods").json()["contact_methods"] == [method]


def test_a_user_has_at_most_twenty_contact_methods(api):
    user = _user(api)
    made = [_method(api, user["id"], "push", f"device-{n}") for n in range(20)]
    one_more = api.post(f"/api/v1/users/{user['id']}/contact-methods", json={"kind": "push", "address": "one-more"})

    message = refused(one_more, 409, "already has 20 contact methods", "delete one")

    assert user["id"] in message
    assert len(api.get(f"/api/v1/users/{user['id']}/contact-methods").json()["contact_methods"]) == 20
    assert api.delete(f"/api/v1/users/{user['id']}/contact-methods/{made[0]['id']}").status_code == 204
    _method(api, user["id"], "push", "one-more")
    _method(api, _user(api)["id"], "push", "another user's count is their own")


@pytest.mark.parametrize("address", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook",
                                     "http://[fe80::1]/hook"])
def test_an_internal_destination_outside_the_allowed_networks_is_refused(api, address):
    """The test deployment allows loopback (its receivers), and nothing else internal."""
    user = _user(api)
    for kind in ("webhook", "slack"):
        refused(api.post(f"/api/v1/users/{user['id']}/contact-methods", json={"kind": kind, "address": address}),
                422, "address", f"{kind} destination not allowed")
    method = _method(api, user["id"], "webhook", "http://127.0.0.1:9/hook")
    refused(api.patch(f"/api/v1/users/{user['id']}/contact-methods/{method['id']}", json={"address": address}),
            422, "destination not allowed")
    assert api.get(f"/api/v1/users/{user['id']}/contact-methods").json()["contact_methods"] == [method]


# -- notification rules -----------------------------------------------------------------------

def _rule(api, user_id, method_id, urgency="high", delay_minutes=0):
    return api.post(f"/api/v1/users/{user_id}/notification-rules",
                    json={"contact_method_id": method_id, "urgency": urgency, "delay_minutes": delay_minutes})


def test_notification_rules(api):
    user = _user(api)
    sms, email = _method(api, user["id"]), _method(api, user["id"], "email", "ada@example.com")
    for method, urgency, delay in [(email, "low", 0), (sms, "high", 5), (email, "high", 0), (sms, "low", 30)]:
        response = _rule(api, user["id"], method["id"], urgency, delay)
        assert response.status_code == 201, response.text
        assert response.json() | {"id": None, "created_at": None} == {
            "id": None, "user_id": user["id"], "contact_method_id": method["id"], "urgency": urgency,
            "delay_minutes": delay, "created_at": None,
        }
    rules = api.get(f"/api/v1/users/{user['id']}/notification-rules").json()["notification_rules"]
    assert [(r["urgency"], r["delay_minutes"], r["contact_method_id"]) for r in rules] == [
        ("high", 0, email["id"]), ("high", 5, sms["id"]), ("low", 0, email["id"]), ("low", 30, sms["id"]),
    ]

    assert api.delete(f"/api/v1/users/{user['id']}/notification-rules/{rules[0]['id']}").status_code == 204
    refused(api.delete(f"/api/v1/users/{user['id']}/notification-rules/{rules[0]['id']}"), 404, rules[0]["id"])
    assert api.delete(f"/api/v1/users/{user['id']}/contact-methods/{sms['id']}").status_code == 204
    left = api.get(f"/api/v1/users/{user['id']}/notification-rules").json()["notification_rules"]
    assert [r["id"] for r in left] == [rules[2]["id"]]


def test_duplicate_rule_is_409(api):
    user = _user(api)
    method = _method(api, user["id"])
    assert _rule(api, user["id"], method["id"], "high", 5).status_code == 201
    refused(_rule(api, user["id"], method["id"], "high", 5), 409, method["id"])
    assert _rule(api, user["id"], method["id"], "low", 5).status_code == 201


def test_rule_needs_a_contact_method_of_that_user(api):
    owner, other = _user(api), _user(api)
    method = _method(api, owner["id"])
    refused(_rule(api, other["id"], method["id"]), 422, "contact_method_id", method["id"])
    refused(_rule(api, other["id"], MISSING), 422, "contact_method_id", MISSING)
    assert api.get(f"/api/v1/users/{other['id']}/notification-rules").json()["notification_rules"] == []


@pytest.mark.parametrize(("change", "field"), [
    ({"delay_minutes": -1}, "delay_minutes"), ({"delay_minutes": 1441}, "delay_minutes"),
    ({"delay_minutes": "soon"}, "delay_minutes"), ({"urgency": "medium"}, "urgency"),
    ({"contact_method_id": "sms"}, "contact_method_id"), ({"repeat": True}, "repeat"),
])
def test_bad_rule_is_refused(api, change, field):
    user = _user(api)
    method = _method(api, user["id"])
    body = {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0, **change}
    refused(api.post(f"/api/v1/users/{user['id']}/notification-rules", json=body), 422, field)


def test_deleting_a_user_deletes_what_is_theirs(api, db):
    user = _user(api)
    method = _method(api, user["id"])
    assert _rule(api, user["id"], method["id"]).status_code == 201
    assert api.delete(f"/api/v1/users/{user['id']}").status_code == 204
    assert db("fetchval", "SELECT count(*) FROM contact_methods WHERE user_id = $1::uuid", user["id"]) == 0
    assert db("fetchval", "SELECT count(*) FROM notification_rules WHERE user_id = $1::uuid", user["id"]) == 0
