"""Twilio calling Tocsin back, against `tocsin up`: the fake Twilio's phone texts replies,
answers calls, presses keys and reports deliveries, all signed as Twilio signs them; the
incident's timeline and the outbox show what came of it."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tocsin.actors.domain.messages import VOICE_MENU
from tocsin.actors.providers import twilio as provider
from tocsin.actors.providers.base import Outgoing
from tocsin.actors.providers.settings import TwilioSettings
from tocsin.actors.settings import Settings
from tocsin.actors.store.replies import reply_code_for
from tocsin.serve.errors import install_handlers
from tocsin.serve.runtime import GatewayRuntime, get_runtime
from tocsin.serve.webhooks import twilio as webhooks
from tests.client import create_user, trigger
from tests.fakes.twilio_server import FakeTwilio

T = TypeVar("T")


def run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async code from a sync test, on a thread of its own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine()).result()


def new_number() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


class OnCall:
    """One person paged at once by SMS (and by voice when asked), on a service of their own."""

    def __init__(self, api: httpx.Client, tocsin: Any, admin_token: str, database_url: str,
                 voice: bool = False) -> None:
        self.api = api
        self.database_url = database_url
        self.name = f"Dana {uuid.uuid4().hex[:6]}"
        self.person = create_user(tocsin.base_url, admin_token, self.name)
        self.number = new_number()
        self.sms = self.method("sms")
        self.voice = self.method("voice") if voice else None
        policy = self.created("/api/v1/escalation-policies", {"name": self.name, "levels": [
            {"delay_minutes": 30, "targets": [{"type": "user", "id": self.person["id"]}]},
            {"delay_minutes": 30, "targets": [{"type": "user", "id": self.person["id"]}]},
        ]})
        service = self.created("/api/v1/services", {"name": "payments", "escalation_policy_id": policy["id"]})
        self.service_id = service["id"]
        self.key = self.created(f"/api/v1/services/{self.service_id}/integrations", {"type": "pagerduty"})["key"]

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def method(self, kind: str) -> dict[str, Any]:
        method = self.created(f"/api/v1/users/{self.person['id']}/contact-methods",
                              {"kind": kind, "address": self.number, "verified": True})
        self.created(f"/api/v1/users/{self.person['id']}/notification-rules",
                     {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
        return method

    def open_incident(self, summary: str = "Card payments failing") -> dict[str, Any]:
        dedup = uuid.uuid4().hex
        response = self.api.post("/v2/enqueue", json=trigger(self.key, dedup, summary=summary))
        assert response.status_code == 202, response.text
        incidents = self.api.get("/api/v1/incidents", params={"service_id": self.service_id}).json()["incidents"]
        [incident] = [i for i in incidents if i["dedup_key"] == dedup]
        return incident  # type: ignore[no-any-return]

    def code_for(self, incident: dict[str, Any]) -> int:
        async def assign() -> int:
            conn = await asyncpg.connect(self.database_url)
            try:
                return await reply_code_for(conn, self.sms["id"], incident["id"])
            finally:
                await conn.close()

        return run(assign)

    def incident(self, incident: dict[str, Any]) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/incidents/{incident['id']}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def timeline(self, incident: dict[str, Any]) -> list[tuple[str, str]]:
        return [(e["kind"], e["actor"]) for e in self.incident(incident)["timeline"]]

    def notification_ids(self, incident: dict[str, Any]) -> list[int]:
        response = self.api.get(f"/api/v1/incidents/{incident['id']}/notifications")
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["notifications"]]

    def paged_methods(self, incident: dict[str, Any]) -> list[str]:
        response = self.api.get(f"/api/v1/incidents/{incident['id']}/notifications")
        assert response.status_code == 200, response.text
        return [n["contact_method_id"] for n in response.json()["notifications"]]


@pytest.fixture
def on_call(api: httpx.Client, tocsin: Any, admin_token: str, database_url: str) -> OnCall:
    return OnCall(api, tocsin, admin_token, database_url)


@pytest.fixture
def sms_url(tocsin: Any) -> str:
    return f"{tocsin.base_url}/webhooks/twilio/sms"


def said(response: httpx.Response) -> str:
    """The text of a TwiML answer to a text; asserts it is TwiML."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>'), response.text
    return response.text


# -- signatures ---------------------------------------------------------------------------


ACTING_PATHS = ["/webhooks/twilio/sms", "/webhooks/twilio/voice/keypad?notification={notification}"]


@pytest.mark.parametrize("path", [*ACTING_PATHS, "/webhooks/twilio/status",
                                  "/webhooks/twilio/voice?notification={notification}"])
def test_a_missing_or_wrong_signature_is_refused(fake_twilio: FakeTwilio, tocsin: Any, on_call: OnCall,
                                                 path: str) -> None:
    """Forged from the paged person's own number, about their incident: it changes nothing."""
    incident = on_call.open_incident()
    code = on_call.code_for(incident)
    [notification] = on_call.notification_ids(incident)
    url = tocsin.base_url + path.format(notification=notification)
    params = {"From": on_call.number, "To": fake_twilio.from_number, "Body": f"{code}a", "Digits": "4",
              "MessageSid": "SM" + uuid.uuid4().hex, "CallSid": "CA" + uuid.uuid4().hex, "MessageStatus": "delivered"}
    impostor = FakeTwilio(auth_token="not-the-auth-token")

    missing = httpx.post(url, data=params)
    wrong_token = impostor.signed_post(url, params)
    other_url = fake_twilio.signed_post(url, params, fake_twilio.sign(url + "&x=1", params))
    tampered = fake_twilio.signed_post(url, {**params, "Body": f"{code}c", "Digits": "6"},
                                       fake_twilio.sign(url, params))

    assert missing.status_code == 403 and "X-Twilio-Signature is missing" in missing.json()["message"]
    for response in (wrong_token, other_url, tampered):
        assert response.status_code == 403, response.text
        assert "X-Twilio-Signature does not match" in response.json()["message"]
    assert on_call.incident(incident)["status"] == "triggered"
    assert not [actor for _, actor in on_call.timeline(incident) if actor.startswith(("sms:", "voice:"))]

    signed = fake_twilio.signed_post(url, params)  # the same request, signed right

    assert signed.status_code in (200, 204), signed.text
    if path in ACTING_PATHS:  # and what the forged ones would have done
        assert on_call.incident(incident)["status"] == "acknowledged"


async def test_webhooks_are_off_when_twilio_is_not_configured() -> None:
    app = FastAPI()
    install_handlers(app)
    app.include_router(webhooks.router)
    unconfigured = GatewayRuntime(Settings(twilio_account_sid="AC1", twilio_from_number="+15005550006"),
                                  "postgresql://127.0.0.1:1/nothing")
    app.dependency_overrides[get_runtime] = lambda: unconfigured

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin") as client:
        response = await client.post("/webhooks/twilio/sms", data={"From": "+15550001", "Body": "1a"},
                                     headers={"X-Twilio-Signature": "anything"})

    assert response.status_code == 404
    assert "Twilio is not configured" in response.json()["message"]


# -- replies by text ----------------------------------------------------------------------


def test_a_reply_acknowledges_under_the_persons_name(fake_twilio: FakeTwilio, on_call: OnCall) -> None:
    incident = on_call.open_incident()
    code = on_call.code_for(incident)

    answer = said(fake_twilio.reply(on_call.number, f"{code}a"))

    assert f"Incident {incident['id']} acknowledged." in answer
    assert on_call.incident(incident)["status"] == "acknowledged"
    assert ("acknowledged", f"sms:{on_call.name}") in on_call.timeline(incident)


def test_a_reply_closes_whatever_the_case_and_spacing(fake_twilio: FakeTwilio, on_call: OnCall) -> None:
    first = on_call.open_incident()
    second = on_call.open_incident()
    codes = on_call.code_for(first), on_call.code_for(second)
    assert sorted(codes) == [1, 2]
    assert on_call.code_for(second) == codes[1]  # a pair keeps its code

    answer = said(fake_twilio.reply(on_call.number, f" {codes[1]} C "))

    assert f"Incident {second['id']} resolved." in answer
    assert on_call.incident(second)["status"] == "resolved"
    assert on_call.incident(first)["status"] == "triggered"
    assert ("resolved", f"sms:{on_call.name}") in on_call.timeline(second)


def test_a_reply_escalates_to_the_next_level(fake_twilio: FakeTwilio, on_call: OnCall) -> None:
    incident = on_call.open_incident()
    code = on_call.code_for(incident)

    answer = said(fake_twilio.reply(on_call.number, f"{code}E"))

    assert f"Incident {incident['id']} escalated." in answer
    assert on_call.incident(incident)["escalation_level"] == 2
    assert ("escalated", f"sms:{on_call.name}") in on_call.timeline(incident)


def test_acting_again_says_it_was_done_already(fake_twilio: FakeTwilio, on_call: OnCall) -> None:
    incident = on_call.open_incident()
    code = on_call.code_for(incident)
    said(fake_twilio.reply(on_call.number, f"{code}c"))

    answer = said(fake_twilio.reply(on_call.number, f"{code}a"))

    assert f"Incident {incident['id']} is already resolved." in answer
    assert on_call.incident(incident)["status"] == "resolved"


@pytest.mark.parametrize("body, words", [("{unknown}a", "no incident has the reply code {unknown}"),
                                         ("ack", "reply with the"), ("{code}x", "3a to acknowledge")])
def test_an_unknown_code_or_text_is_answered_with_how_to_reply(
    fake_twilio: FakeTwilio, on_call: OnCall, body: str, words: str
) -> None:
    incident = on_call.open_incident()
    code = on_call.code_for(incident)

    answer = said(fake_twilio.reply(on_call.number, body.format(code=code, unknown=code + 100)))

    assert words.format(unknown=code + 100) in answer
    assert on_call.incident(incident)["status"] == "triggered"
    assert not [actor for _, actor in on_call.timeline(incident) if actor.startswith("sms:")]


def test_a_code_from_another_number_acts_on_nothing(fake_twilio: FakeTwilio, on_call: OnCall) -> None:
    incident = on_call.open_incident()
    code = on_call.code_for(incident)

    answer = said(fake_twilio.reply(new_number(), f"{code}a"))

    assert "no incident has the reply code" in answer
    assert on_call.incident(incident)["status"] == "triggered"


def test_stop_switches_texts_off_and_start_on_again(
    fake_twilio: FakeTwilio, on_call: OnCall, db: Callable[..., Any]
) -> None:
    def enabled() -> bool:
        return bool(db("fetchval", "SELECT enabled FROM contact_methods WHERE id = $1::uuid", on_call.sms["id"]))

    assert on_call.sms["id"] in on_call.paged_methods(on_call.open_incident())

    assert "no more texts" in said(fake_twilio.reply(on_call.number, "Stop"))

    assert not enabled()
    assert on_call.sms["id"] not in on_call.paged_methods(on_call.open_incident())

    assert "on again" in said(fake_twilio.reply(on_call.number, "START"))

    assert enabled()
    assert on_call.sms["id"] in on_call.paged_methods(on_call.open_incident())


# -- the same request again ---------------------------------------------------------------


def text_from(fake_twilio: FakeTwilio, number: str, body: str) -> dict[str, str]:
    """The form of one text to Tocsin's number, as Twilio posts it (and would post it again)."""
    sid = "SM" + uuid.uuid4().hex
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": fake_twilio.account_sid, "From": number,
            "To": fake_twilio.from_number, "Body": body, "NumMedia": "0"}


def test_a_text_sent_again_acts_once_and_is_answered_with_nothing(
    fake_twilio: FakeTwilio, on_call: OnCall, sms_url: str
) -> None:
    incident = on_call.open_incident()
    escalate = text_from(fake_twilio, on_call.number, f"{on_call.code_for(incident)}e")

    first = fake_twilio.signed_post(sms_url, escalate)
    again = fake_twilio.signed_post(sms_url, escalate)

    assert f"Incident {incident['id']} escalated." in said(first)
    assert again.status_code == 200 and "<Message>" not in again.text, again.text  # nothing texted back
    escalations = [entry for entry in on_call.timeline(incident) if entry == ("escalated", f"sms:{on_call.name}")]
    assert len(escalations) == 1  # escalating twice would have paged the last level again


def test_a_stop_sent_again_does_not_switch_texts_off_after_a_start(
    fake_twilio: FakeTwilio, on_call: OnCall, sms_url: str, db: Callable[..., Any]
) -> None:
    stop = text_from(fake_twilio, on_call.number, "STOP")
    assert "no more texts" in said(fake_twilio.signed_post(sms_url, stop))
    assert "on again" in said(fake_twilio.reply(on_call.number, "START"))

    replayed = fake_twilio.signed_post(sms_url, stop)

    assert replayed.status_code == 200 and "<Message>" not in replayed.text, replayed.text
    assert db("fetchval", "SELECT enabled FROM contact_methods WHERE id = $1::uuid", on_call.sms["id"]) is True
    assert on_call.sms["id"] in on_call.paged_methods(on_call.open_incident())


def test_a_text_without_its_message_sid_is_refused(fake_twilio: FakeTwilio, on_call: OnCall, sms_url: str) -> None:
    incident = on_call.open_incident()
    text = text_from(fake_twilio, on_call.number, f"{on_call.code_for(incident)}a")
    del text["MessageSid"]

    response = fake_twilio.signed_post(sms_url, text)

    assert response.status_code == 400 and "MessageSid" in response.json()["message"]
    assert on_call.incident(incident)["status"] == "triggered"


# -- calls --------------------------------------------------------------------------------


def test_a_call_reads_the_alert_and_key_4_acknowledges(
    fake_twilio: FakeTwilio, api: httpx.Client, tocsin: Any, admin_token: str, database_url: str
) -> None:
    on_call = OnCall(api, tocsin, admin_token, database_url, voice=True)
    assert on_call.voice is not None
    incident = on_call.open_incident("Checkout latency over 2s")
    notifications = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()["notifications"]
    [notification] = [n for n in notifications if n["channel"] == "voice"]
    sid = place_call(fake_twilio, tocsin, notification["id"], on_call.number)

    first = fake_twilio.answer(sid)
    heard = list(fake_twilio.call(sid).said)
    fake_twilio.press(sid, "*")
    repeated = fake_twilio.call(sid).said[len(heard):]
    fake_twilio.press(sid, "9")
    menu_again = fake_twilio.call(sid).said[len(heard) + len(repeated):]
    assert on_call.incident(incident)["status"] == "triggered"
    last = fake_twilio.press(sid, "4")

    assert heard[0] == (f"This is Tocsin with a high urgency alert for payments. "
                        f"Incident {incident['id']}: Checkout latency over 2s.")
    gather = ET.fromstring(first).find("Gather")
    assert gather is not None and heard[1] == VOICE_MENU
    assert gather.attrib == {"action": f"/webhooks/twilio/voice/keypad?notification={notification['id']}",
                             "method": "POST", "numDigits": "1"}
    assert repeated[:2] == heard[:2]
    assert menu_again[0] == VOICE_MENU
    assert f"Incident {incident['id']} acknowledged." in last and "<Hangup />" in last
    assert on_call.incident(incident)["status"] == "acknowledged"
    assert ("acknowledged", f"voice:{on_call.name}") in on_call.timeline(incident)


def test_a_key_press_sent_again_acts_once(
    fake_twilio: FakeTwilio, api: httpx.Client, tocsin: Any, admin_token: str, database_url: str
) -> None:
    on_call = OnCall(api, tocsin, admin_token, database_url, voice=True)
    incident = on_call.open_incident()
    notifications = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()["notifications"]
    [notification] = [n for n in notifications if n["channel"] == "voice"]
    sid = place_call(fake_twilio, tocsin, notification["id"], on_call.number)

    first = fake_twilio.press(sid, "5")
    again = fake_twilio.press(sid, "5")  # the same CallSid and Digits, to the same keypad URL

    assert f"Incident {incident['id']} escalated." in first and "<Hangup />" in first
    assert "handled already" in again and "<Hangup />" in again
    escalations = [entry for entry in on_call.timeline(incident) if entry == ("escalated", f"voice:{on_call.name}")]
    assert len(escalations) == 1


def test_a_call_for_an_unknown_notification_says_goodbye(fake_twilio: FakeTwilio, tocsin: Any) -> None:
    sid = place_call(fake_twilio, tocsin, 2_000_000_000, new_number())

    twiml = fake_twilio.answer(sid)

    assert "no longer available" in twiml and "<Hangup />" in twiml and "<Gather" not in twiml


def send(fake_twilio: FakeTwilio, tocsin: Any, message: Outgoing) -> str:
    """Send as the ChannelActor does: through the provider, to the fake Twilio; the SID."""
    twilio = provider.from_settings(TwilioSettings.of(Settings(port=tocsin.port, **fake_twilio.settings())))
    assert twilio is not None

    async def go() -> str | None:
        try:
            return (await twilio.send(message)).provider_message_id
        finally:
            await twilio.close()

    sid = run(go)
    assert sid is not None
    return sid


def place_call(fake_twilio: FakeTwilio, tocsin: Any, notification_id: int, number: str) -> str:
    sid = send(fake_twilio, tocsin, Outgoing(notification_id, "voice", number, "Tocsin", "call"))
    assert fake_twilio.call(sid).url == f"{tocsin.base_url}/webhooks/twilio/voice?notification={notification_id}"
    return sid


# -- delivery reports ---------------------------------------------------------------------


def test_a_status_callback_records_the_delivery_status(
    fake_twilio: FakeTwilio, tocsin: Any, on_call: OnCall, db: Callable[..., Any]
) -> None:
    incident = on_call.open_incident()
    sid = send(fake_twilio, tocsin, Outgoing(1, "sms", on_call.number, "Tocsin", "hello"))
    notification_id = db(
        "fetchval",
        "INSERT INTO notifications (incident_id, service_id, page, level, pass, user_id, contact_method_id, channel,"
        " delay_minutes, urgency, message, send_at, status, created_at, updated_at, provider, provider_message_id)"
        " VALUES ($1, $2::uuid, 1000, 0, 0, $3::uuid, $4::uuid, 'sms', 0, 'high', 'hello', now(), 'sent', now(),"
        " now(), 'twilio', $5) RETURNING id",
        incident["id"], on_call.service_id, on_call.person["id"], on_call.sms["id"], sid,
    )
    db("execute", "INSERT INTO notification_attempts (notification_id, provider, at, outcome, provider_message_id)"
                  " VALUES ($1, 'twilio', now(), 'sent', $2)", notification_id, sid)

    def delivery() -> Any:
        status = db("fetchval", "SELECT delivery_status FROM notifications WHERE id = $1", notification_id)
        attempt = db("fetchval", "SELECT delivery_status FROM notification_attempts WHERE notification_id = $1",
                     notification_id)
        assert attempt == status  # the attempt that sent it records the report too
        return status

    assert fake_twilio.deliver(sid, "sent").status_code == 204
    assert delivery() == "sent"
    assert fake_twilio.deliver(sid, "delivered").status_code == 204
    assert delivery() == "delivered"
    assert fake_twilio.deliver(sid, "sent").status_code == 204  # late and out of order
    assert delivery() == "delivered"
    status = db("fetchval", "SELECT status FROM notifications WHERE id = $1", notification_id)
    assert status == "sent"


def test_a_status_callback_for_an_unknown_message_is_ignored(
    fake_twilio: FakeTwilio, tocsin: Any, db: Callable[..., Any]
) -> None:
    before = db("fetchval", "SELECT count(*) FROM notifications WHERE delivery_status = 'failed'")
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "MessageStatus": "failed", "AccountSid": fake_twilio.account_sid}

    response = fake_twilio.signed_post(f"{tocsin.base_url}/webhooks/twilio/status", params)

    assert response.status_code == 204
    assert db("fetchval", "SELECT count(*) FROM notifications WHERE delivery_status = 'failed'") == before
