"""From the phone's side of a fake Twilio: an alert comes in, the on-call person's phone gets
the text, they reply, and the incident is acknowledged under their name. Any text the test
does not expect fails it."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from tests.client import create_user, trigger


def person_with_a_phone(api: httpx.Client, tocsin: Any, admin_token: str, name: str) -> tuple[dict[str, Any], str]:
    number = f"+1415{random.randrange(10**7):07d}"
    user = create_user(tocsin.base_url, admin_token, name)
    method = api.post(f"/api/v1/users/{user['id']}/contact-methods",
                      json={"kind": "sms", "address": number, "verified": True}).json()
    rule = api.post(f"/api/v1/users/{user['id']}/notification-rules",
                    json={"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
    assert rule.status_code == 201, rule.text
    return user, number


def test_a_reply_from_the_phone_acknowledges_and_stops_the_escalation(
    api: httpx.Client, tocsin: Any, admin_token: str, fake_twilio: Any
) -> None:
    pat, pat_phone = person_with_a_phone(api, tocsin, admin_token, "Pat")
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

    answer = fake_twilio.reply(pat_phone, "1a")

    assert answer.status_code == 200 and "acknowledged" in answer.text.lower()
    detail = api.get(f"/api/v1/incidents/{incident['id']}").json()
    assert detail["status"] == "acknowledged" and detail["next_escalation_at"] is None
    assert ("acknowledged", "sms:Pat") in [(e["kind"], e["actor"]) for e in detail["timeline"]]
    time.sleep(1.5)  # whatever the channel would still send, it would have by now
    assert fake_twilio.texts_to(pat_phone) == [text.body]  # nothing unexpected
    assert fake_twilio.texts_to(quinn_phone) == []
