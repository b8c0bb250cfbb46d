"""From the phone's side of a fake Twilio: an alert comes in, the on-call person's phone gets
the text, they reply, and the incident is acknowledged under their name. Any text the test
does not expect fails it."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.client import create_user, trigger
from tests.e2e.conftest import audited_reply

SETTLE_S = 20.0  # a bound on waiting for the outbox to show what was sent, not a measure


def person_with_a_phone(api: httpx.Client, tocsin: Any, admin_token: str, name: str,
                        delays: tuple[int, ...] = (0,)) -> tuple[dict[str, Any], str]:
    """A person texted on their phone this many minutes after they are paged, for each delay."""
    number = f"+1415{random.randrange(10**7):07d}"
    user = create_user(tocsin.base_url, admin_token, name)
    method = api.post(f"/api/v1/users/{user['id']}/contact-methods",
                      json={"kind": "sms", "address": number, "verified": True}).json()
    for delay in delays:
        rule = api.post(f"/api/v1/users/{user['id']}/notification-rules",
                        json={"contact_method_id": method["id"], "urgency": "high", "delay_minutes": delay})
        assert rule.status_code == 201, rule.text
    return user, number


def outbox(api: httpx.Client, incident_id: int) -> list[tuple[str, int, int, str]]:
    """(who, level, delay in minutes, status) of every notification of the incident."""
    response = api.get(f"/api/v1/incidents/{incident_id}/notifications")
    assert response.status_code == 200, response.text
    return sorted((n["user_name"], n["level"], n["delay_minutes"], n["status"])
                  for n in response.json()["notifications"])


def outbox_becomes(api: httpx.Client, incident_id: int, expected: list[tuple[str, int, int, str]]) -> None:
    """Wait until the outbox is `expected` (a text is received before its row says sent)."""
    deadline = time.monotonic() + SETTLE_S
    while (seen := outbox(api, incident_id)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert seen == expected


def test_a_reply_from_the_phone_acknowledges_and_stops_the_escalation(
    api: httpx.Client, tocsin: Any, admin_token: str, fake_twilio: Any
) -> None:
    # Pat is texted at once and reminded after 10 minutes; Quinn is the next level, 5 minutes on.
    pat, pat_phone = person_with_a_phone(api, tocsin, admin_token, "Pat", delays=(0, 10))
    quinn, quinn_phone = person_with_a_phone(api, tocsin, admin_token, "Quinn")
    policy = api.post("/api/v1/escalation-policies", json={"name": "payments", "levels": [
        {"delay_minutes": 5, "targets": [{"type": "user", "id": pat["id"]}]},
        {"delay_minutes": 5, "targets": [{"type": "user", "id": quinn["id"]}]},
    ]}).json()
    service = api.post("/api/v1/services", json={"name": "payments", "escalation_policy_id": policy["id"]}).json()
    key = api.post(f"/api/v1/services/{service['id']}/integrations", json={"type": "pagerduty"}).json()["key"]

    assert api.post("/v2/enqueue", json=trigger(key, "card-declines", summary="Card declines at 40%")).status_code == 202
    text = fake_twilio.wait_for_text(pat_phone, timeout_s=20)
    [incident] = api.get("/api/v1/incidents", params={"service_id": service["id"]}).json()["incidents"]
    assert f"#{incident['id']}" in text.body and "Card declines at 40%" in text.body
    assert "Reply 1a ack, 1c close, 1e escalate" in text.body
    opened = datetime.fromisoformat(incident["created_at"])
    assert datetime.fromisoformat(incident["next_escalation_at"]) == opened + timedelta(minutes=5)  # Quinn's turn
    outbox_becomes(api, incident["id"], [("Pat", 1, 0, "sent"), ("Pat", 1, 10, "pending")])

    answer = fake_twilio.reply(pat_phone, "1a")

    assert answer.status_code == 200 and "acknowledged" in answer.text.lower()
    detail = api.get(f"/api/v1/incidents/{incident['id']}").json()
    assert detail["status"] == "acknowledged" and detail["next_escalation_at"] is None  # Quinn is never paged
    assert ("acknowledged", "sms:Pat") in [(e["kind"], e["actor"]) for e in detail["timeline"]]
    entry = audited_reply(api, incident["id"], "sms")  # in the audit log too, as Pat
    assert (entry["actor"], entry["action"], entry["after"]["status"]) == (pat["id"], "acknowledge", "acknowledged")
    # Nothing is left to send: the reminder is cancelled, and Quinn has no notification at all.
    outbox_becomes(api, incident["id"], [("Pat", 1, 0, "sent"), ("Pat", 1, 10, "cancelled")])
    assert fake_twilio.texts_to(pat_phone) == [text.body]  # nothing unexpected
    assert fake_twilio.texts_to(quinn_phone) == []
