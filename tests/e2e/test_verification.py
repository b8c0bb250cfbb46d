"""Contact-method verification over HTTP: a code goes out through the outbox, as a phone
would receive it, and is typed back."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.client import create_user
from tests.e2e.conftest import refused

MISSING = str(uuid.uuid4())


class Person:
    """A user with one SMS contact method, and the phone it reaches."""

    def __init__(self, api: Any, tocsin: Any, admin_token: str, db: Any, verified: bool = False) -> None:
        self.api, self.db = api, db
        self.user = create_user(tocsin.base_url, admin_token, "Verifier")
        # A number of its own: codes are limited per destination too.
        self.number = f"+1555{uuid.uuid4().int % 10 ** 7:07d}"
        response = api.post(f"/api/v1/users/{self.user['id']}/contact-methods",
                            json={"kind": "sms", "address": self.number, "verified": verified})
        assert response.status_code == 201, response.text
        self.method = response.json()
        self.path = f"/api/v1/users/{self.user['id']}/contact-methods/{self.method['id']}"

    def request_code(self) -> Any:
        return self.api.post(f"{self.path}/verification")

    def sent_code(self) -> str:
        """Ask for a code and read it off the phone."""
        response = self.request_code()
        assert response.status_code == 202, response.text
        return self.last_code()

    def verify(self, code: str) -> Any:
        return self.api.post(f"{self.path}/verify", json={"code": code})

    def texts(self) -> list[dict[str, Any]]:
        rows = self.db("fetch", "SELECT * FROM notifications WHERE contact_method_id = $1::uuid ORDER BY id",
                       self.method["id"])
        return [dict(r) for r in rows]

    def last_code(self) -> str:
        match = re.search(r"code is (\d{6})\b", self.texts()[-1]["message"])
        assert match, self.texts()[-1]["message"]
        return match.group(1)

    def verified(self) -> bool:
        [method] = self.api.get(f"/api/v1/users/{self.user['id']}/contact-methods").json()["contact_methods"]
        return bool(method["verified"])

    def stored(self, column: str) -> Any:
        return self.db("fetchval", f"SELECT {column} FROM contact_methods WHERE id = $1::uuid", self.method["id"])

    def a_minute_passes(self) -> None:
        self.db("execute", "UPDATE contact_methods SET verification_sent_at = verification_sent_at - interval '61 s'"
                " WHERE id = $1::uuid", self.method["id"])


@pytest.fixture
def person(api, tocsin, admin_token, db):
    return Person(api, tocsin, admin_token, db)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_a_code_goes_out_through_the_outbox_and_verifies(person):
    before = datetime.now(timezone.utc)
    response = person.request_code()
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["contact_method_id"] == person.method["id"]
    expires_at, resend_after = (datetime.fromisoformat(body[k]) for k in ("expires_at", "resend_after"))
    assert before + timedelta(minutes=15) <= expires_at <= before + timedelta(minutes=15, seconds=10)
    assert before + timedelta(seconds=60) <= resend_after <= before + timedelta(seconds=70)

    [text] = person.texts()
    assert {k: text[k] for k in ("kind", "channel", "incident_id", "service_id", "page", "level", "pass",
                                 "urgency", "delay_minutes", "rule_id")} == {
        "kind": "verification", "channel": "sms", "incident_id": None, "service_id": None, "page": None,
        "level": None, "pass": None, "urgency": "high", "delay_minutes": 0, "rule_id": None,
    }
    assert str(text["user_id"]) == person.user["id"]
    assert before - timedelta(seconds=5) <= text["send_at"] <= datetime.now(timezone.utc)
    code = person.last_code()
    assert text["message"] == f"Your Tocsin verification code is {code}. It expires in 15 minutes."
    assert code not in person.stored("verification_code_hash")
    assert not person.verified()

    verified = person.verify(code)
    assert verified.status_code == 200, verified.text
    assert verified.json() == person.method | {"verified": True}
    assert person.verified()
    assert person.stored("verification_code_hash") is None
    refused(person.verify(code), 400, "no code")


def test_one_code_a_minute(person):
    person.sent_code()
    too_soon = person.request_code()
    refused(too_soon, 429, "another can be sent in")
    assert 1 <= int(too_soon.headers["retry-after"]) <= 60
    assert len(person.texts()) == 1


def test_a_new_code_replaces_the_previous_one(person):
    first = person.sent_code()
    person.a_minute_passes()
    second = person.sent_code()
    old, new = person.texts()
    assert old["status"] != "pending" and new["kind"] == "verification"
    if first != second:
        refused(person.verify(first), 400, "does not match")
    assert person.verify(second).status_code == 200
    assert person.verified()


def test_a_wrong_code_counts_and_leaves_the_method_unverified(person):
    code = person.sent_code()
    refused(person.verify(_wrong(code)), 400, "the code does not match", "4 more tries")
    assert not person.verified()
    assert person.stored("verification_failures") == 1
    assert person.verify(code).status_code == 200
    assert person.stored("verification_failures") == 0


@pytest.mark.parametrize("code", ["12345", "1234567", "12345a", "", 123456])
def test_a_code_that_is_not_six_digits_is_invalid_and_does_not_count(person, code):
    person.sent_code()
    refused(person.verify(code), 422, "code")
    assert person.stored("verification_failures") == 0


def test_an_expired_code_is_refused(person):
    code = person.sent_code()
    person.db("execute", "UPDATE contact_methods SET verification_expires_at = now() - interval '1 s'"
              " WHERE id = $1::uuid", person.method["id"])
    refused(person.verify(code), 400, "expired", "request a new code")
    assert not person.verified()


def test_five_wrong_tries_void_the_code(person):
    code = person.sent_code()
    for left in (4, 3, 2, 1):
        refused(person.verify(_wrong(code)), 400, "does not match", f"{left} more")
    refused(person.verify(_wrong(code)), 400, "does not match", "void", "request a new code")
    refused(person.verify(code), 400, "void", "request a new code")
    assert person.stored("verification_failures") == 5
    assert not person.verified()

    person.a_minute_passes()
    fresh = person.sent_code()
    assert person.stored("verification_failures") == 0
    assert person.verify(fresh).status_code == 200


def test_no_code_requested(person):
    refused(person.verify("123456"), 400, "no code was sent")
    assert not person.verified()


def test_a_verified_method_can_verify_again(api, tocsin, admin_token, db):
    person = Person(api, tocsin, admin_token, db, verified=True)
    assert person.verify(person.sent_code()).json()["verified"] is True


def test_a_new_address_needs_a_new_code(person):
    code = person.sent_code()
    moved = person.api.patch(person.path, json={"address": person.number + "9"})
    assert moved.json()["verified"] is False
    refused(person.verify(code), 400, "no code was sent")
    assert not person.verified()


def test_the_same_address_keeps_the_code(person):
    code = person.sent_code()
    assert person.api.patch(person.path, json={"address": person.number, "label": "mobile"}).status_code == 200
    assert person.verify(code).status_code == 200


def test_unknown_user_or_method_or_another_users_method_is_404(person, api, tocsin, admin_token):
    other = create_user(tocsin.base_url, admin_token, "Other")
    for user_id, method_id in [(MISSING, person.method["id"]), (person.user["id"], MISSING),
                               (other["id"], person.method["id"])]:
        path = f"/api/v1/users/{user_id}/contact-methods/{method_id}"
        refused(api.post(f"{path}/verification"), 404, method_id, user_id)
        refused(api.post(f"{path}/verify", json={"code": "123456"}), 404, method_id, user_id)
    assert person.texts() == []
    refused(api.post("/api/v1/users/not-a-uuid/contact-methods/x/verification"), 422, "user_id")


# -- limits beyond one contact method (10 codes per user, 5 per address, 10 wrong codes per
# user, per hour in the test deployment, as by default) ---------------------------------------


def _push_method(api: Any, user_id: str, token: str) -> str:
    """A push contact method: no push provider runs in the test deployment, so its codes wait
    in the outbox and reach no one."""
    response = api.post(f"/api/v1/users/{user_id}/contact-methods", json={"kind": "push", "address": token})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _send(api: Any, user_id: str, method_id: str) -> Any:
    return api.post(f"/api/v1/users/{user_id}/contact-methods/{method_id}/verification")


def _code_of(db: Any, method_id: str) -> str:
    message = db("fetchval", "SELECT message FROM notifications WHERE contact_method_id = $1::uuid"
                 " ORDER BY id DESC LIMIT 1", method_id)
    match = re.search(r"code is (\d{6})\b", message)
    assert match, message
    return match.group(1)


def _retry_after(response: Any) -> int:
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 3600, seconds
    return seconds


def test_codes_for_one_user_are_limited_across_their_contact_methods(api, tocsin, admin_token, db):
    user = create_user(tocsin.base_url, admin_token, "Sender")["id"]
    methods = [_push_method(api, user, f"device-{uuid.uuid4()}") for _ in range(11)]
    for method in methods[:10]:
        assert _send(api, user, method).status_code == 202

    too_many = _send(api, user, methods[10])

    refused(too_many, 429, "10 verification codes were sent for this user in the last 60 minutes", "try again in")
    _retry_after(too_many)
    assert db("fetchval", "SELECT count(*) FROM notifications WHERE contact_method_id = $1::uuid", methods[10]) == 0


def test_codes_to_one_address_are_limited_whoever_asks(api, tocsin, admin_token, db):
    """The same number (here a device token) on five users' contact methods: after five codes
    a sixth user cannot have it sent another."""
    shared = f"device-{uuid.uuid4()}"
    owners = [create_user(tocsin.base_url, admin_token, f"Owner {n}")["id"] for n in range(6)]
    methods = [_push_method(api, owner, shared) for owner in owners]
    for owner, method in list(zip(owners, methods))[:5]:
        assert _send(api, owner, method).status_code == 202

    too_many = _send(api, owners[5], methods[5])

    refused(too_many, 429, "5 verification codes were sent to this address", "try again in")
    _retry_after(too_many)
    other = _push_method(api, owners[5], f"device-{uuid.uuid4()}")
    assert _send(api, owners[5], other).status_code == 202


def test_wrong_codes_count_across_a_users_contact_methods(api, tocsin, admin_token, db):
    """Five wrong codes void one method's code; ten on two methods hold back the third
    method's check, the right code too, until the hour has room."""
    user = create_user(tocsin.base_url, admin_token, "Guesser")["id"]
    first, second, third = (_push_method(api, user, f"device-{uuid.uuid4()}") for _ in range(3))
    for method in (first, second, third):
        assert _send(api, user, method).status_code == 202
    for method in (first, second):
        wrong = _wrong(_code_of(db, method))
        for _ in range(5):
            refused(api.post(f"/api/v1/users/{user}/contact-methods/{method}/verify", json={"code": wrong}), 400,
                    "does not match")

    right = _code_of(db, third)
    held = api.post(f"/api/v1/users/{user}/contact-methods/{third}/verify", json={"code": right})

    refused(held, 429, "10 wrong codes were typed for this user's contact methods", "no code is checked")
    _retry_after(held)
    assert db("fetchval", "SELECT verified FROM contact_methods WHERE id = $1::uuid", third) is False
    assert db("fetchval", "SELECT verification_failures FROM contact_methods WHERE id = $1::uuid", third) == 0

    db("execute", "UPDATE verification_events SET at = at - interval '61 minutes' WHERE user_id = $1::uuid", user)
    verified = api.post(f"/api/v1/users/{user}/contact-methods/{third}/verify", json={"code": right})
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True
