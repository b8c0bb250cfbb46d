"""Web Push end to end, through `tocsin up` (its VAPID key generated into the data dir on first
start): a browser subscribes over the API, a page reaches the fake push service signed with
VAPID and decrypts to what the service worker shows; its Acknowledge token acknowledges once,
without a session, and is refused after; a subscription the push service says is gone is
removed, and the person's next rule (a text, through the Twilio fake) goes out at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.client import trigger
from tests.e2e.accounts import logged_in, make_user
from tests.e2e.conftest import audited_reply, incidents_of
from tests.fakes.push_service import FakePushService


@pytest.fixture(scope="module")
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


class Responder:
    """A responder who gets pages in their browser at once and by text after `sms_after` minutes."""

    def __init__(self, api: httpx.Client, anonymous: httpx.Client, push_service: FakePushService,
                 phone: str, sms_after: int = 5) -> None:
        self.api = api
        self.user = make_user(api, "responder")
        self.login = logged_in(str(api.base_url), self.user)
        self.browser = push_service.subscribe()
        self.subscribed = self.as_self("POST", "/api/v1/push/subscriptions",
                                       {**self.browser.json(), "label": "Chrome on a phone"})
        assert self.subscribed.status_code == 201, self.subscribed.text
        self.method = self.subscribed.json()
        sms = self.created(f"/api/v1/users/{self.user['id']}/contact-methods",
                           {"kind": "sms", "address": phone, "verified": True})
        self.rule(self.method, 0)
        self.rule(sms, sms_after)
        policy = self.created("/api/v1/escalation-policies", {"name": "push", "levels": [
            {"delay_minutes": 30, "targets": [{"type": "user", "id": self.user["id"]}]}]})
        service = self.created("/api/v1/services", {"name": "checkout", "escalation_policy_id": policy["id"]})
        self.service_id = service["id"]
        self.key = self.created(f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})["key"]
        self.anonymous = anonymous

    def as_self(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.api.request(method, path, json=body, headers={"Authorization": "", **self.login.headers()})

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def rule(self, method: dict[str, Any], delay: int) -> None:
        self.created(f"/api/v1/users/{self.user['id']}/notification-rules",
                     {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": delay})

    def page(self, summary: str = "checkout 5xx") -> int:
        response = self.api.post("/v2/enqueue", json=trigger(self.key, summary=summary))
        assert response.status_code == 202, response.text
        [incident] = incidents_of(self.api, self.service_id)
        return int(incident["id"])

    def incident(self, incident_id: int) -> dict[str, Any]:
        return self.api.get(f"/api/v1/incidents/{incident_id}").json()  # type: ignore[no-any-return]

    def act(self, token: str) -> httpx.Response:
        return self.anonymous.post(f"/api/v1/push/actions/{token}")


def test_a_page_reaches_the_browser_signed_and_encrypted_and_acknowledges_once_from_the_lock_screen(
        api: httpx.Client, anonymous: httpx.Client, push_service: FakePushService) -> None:
    dana = Responder(api, anonymous, push_service, "+14155550181")
    assert (dana.method["kind"], dana.method["verified"], dana.method["address"]) == (
        "webpush", True, dana.browser.endpoint)
    public_key = dana.as_self("GET", "/api/v1/push/vapid-public-key").json()["public_key"]

    incident_id = dana.page("Disk full on db1")

    [push] = push_service.wait_for(dana.browser)
    assert push.vapid_key == public_key and push.claims["aud"] == push_service.url
    assert (push.headers["urgency"], push.headers["ttl"]) == ("high", "3600")
    data = push.payload
    assert (data["incident_id"], data["urgency"]) == (incident_id, "high")
    assert "Disk full on db1" in data["title"] + data["body"]
    assert data["url"].endswith(f"/ui/incidents/{incident_id}") and data["action_url"].endswith("/api/v1/push/actions")

    acknowledged = dana.act(data["actions"]["acknowledge"])
    assert acknowledged.status_code == 200, acknowledged.text
    assert (acknowledged.json()["action"], acknowledged.json()["status"]) == ("acknowledge", "acknowledged")
    detail = dana.incident(incident_id)
    assert detail["status"] == "acknowledged"
    assert any(e["kind"] == "acknowledged" and dana.user["name"] in e["message"] for e in detail["timeline"])
    entry = audited_reply(dana.api, incident_id, "push")  # in the audit log too, as Dana
    assert (entry["actor"], entry["action"], entry["after"]["status"]) == (dana.user["id"], "acknowledge",
                                                                           "acknowledged")

    again = dana.act(data["actions"]["acknowledge"])
    assert again.status_code == 409 and "used already" in again.json()["message"]

    assert dana.act(data["actions"]["resolve"]).json()["status"] == "resolved"
    for token in data["actions"].values():  # the incident is resolved: neither token works any more
        assert dana.act(token).status_code in (409, 410)
    assert dana.act(data["actions"]["acknowledge"][:-2] + "xx").status_code == 404  # forged
    assert dana.act("1.1.a.nothing").status_code == 404


def test_a_subscription_the_push_service_says_is_gone_is_removed_and_the_next_rule_texts_at_once(
        api: httpx.Client, anonymous: httpx.Client, push_service: FakePushService, fake_twilio: Any) -> None:
    phone = "+14155550182"
    erin = Responder(api, anonymous, push_service, phone, sms_after=30)
    push_service.answer(erin.browser, 410)

    incident_id = erin.page()

    assert push_service.wait_for_refusal(erin.browser)[1] == 410
    text = fake_twilio.wait_for_text(phone, timeout_s=30)  # the 30-minute rule, taking over now
    assert str(incident_id) in text.body
    methods = api.get(f"/api/v1/users/{erin.user['id']}/contact-methods").json()["contact_methods"]
    assert [m["kind"] for m in methods] == ["sms"]
    notifications = api.get(f"/api/v1/incidents/{incident_id}/notifications").json()["notifications"]
    dead = [n for n in notifications if n["channel"] == "webpush"]
    assert [n["status"] for n in dead] == ["dead"] and "gone" in dead[0]["last_error"]


def test_subscribing_is_checked_and_unsubscribing_removes_the_method(
        api: httpx.Client, anonymous: httpx.Client, push_service: FakePushService) -> None:
    fay = Responder(api, anonymous, push_service, "+14155550183")
    again = fay.as_self("POST", "/api/v1/push/subscriptions", fay.browser.json())
    assert again.status_code == 200 and again.json()["id"] == fay.method["id"]  # the same browser: the same method

    bad = {**fay.browser.json(), "keys": {"p256dh": "AAAA", "auth": "AAAA"}}
    assert fay.as_self("POST", "/api/v1/push/subscriptions", bad).status_code == 422
    plain = {**fay.browser.json(), "endpoint": "http://push.example.com/x"}
    assert fay.as_self("POST", "/api/v1/push/subscriptions", plain).status_code == 422
    typed = api.post(f"/api/v1/users/{fay.user['id']}/contact-methods",
                     json={"kind": "webpush", "address": fay.browser.endpoint, "verified": True})
    assert typed.status_code == 422 and "browser subscribing" in typed.text
    assert anonymous.post("/api/v1/push/subscriptions", json=fay.browser.json()).status_code == 401

    gone = fay.as_self("DELETE", "/api/v1/push/subscriptions", {"endpoint": fay.browser.endpoint})
    assert gone.status_code == 204
    methods = api.get(f"/api/v1/users/{fay.user['id']}/contact-methods").json()["contact_methods"]
    assert "webpush" not in [m["kind"] for m in methods]
    assert fay.as_self("DELETE", "/api/v1/push/subscriptions",
                       {"endpoint": fay.browser.endpoint}).status_code == 404
