"""Slack and Microsoft Teams against `tocsin up`: pages posted through the fake Slack's Web API
by slack_sdk, with buttons that the fake's side presses, signed as Slack signs (and forged);
the message redrawn in place as the incident changes; `/tocsin oncall`; and a Teams workflow
webhook, a local receiver, given the Adaptive Card Teams requires."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.client import create_user, trigger
from tests.e2e.conftest import audited_reply, refused
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.slack_api import FakeSlack

WAIT_S = 30.0


def eventually(what: str, check: Callable[[], Any]) -> Any:
    """The first truthy answer of `check`, polled until WAIT_S has passed."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {WAIT_S} s: {what}")


def slack_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10].upper()


class Responder:
    """One person paged at once over one contact method, on a service of their own."""

    def __init__(self, api: httpx.Client, tocsin: Any, admin_token: str, kind: str, address: str) -> None:
        self.api = api
        self.name = f"Sam {uuid.uuid4().hex[:6]}"
        self.user = create_user(tocsin.base_url, admin_token, self.name, role="responder")
        method = self.created(f"/api/v1/users/{self.user['id']}/contact-methods",
                              {"kind": kind, "address": address, "verified": True})
        self.created(f"/api/v1/users/{self.user['id']}/notification-rules",
                     {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
        policy = self.created("/api/v1/escalation-policies", {"name": self.name, "levels": [
            {"delay_minutes": 30, "targets": [{"type": "user", "id": self.user["id"]}]},
            {"delay_minutes": 30, "targets": [{"type": "user", "id": self.user["id"]}]},
        ]})
        service = self.created("/api/v1/services", {"name": "payments & <ledger>", "escalation_policy_id": policy["id"]})
        self.key = self.created(f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})["key"]
        self.service_id = service["id"]

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def open_incident(self, summary: str) -> dict[str, Any]:
        dedup = uuid.uuid4().hex
        assert self.api.post("/v2/enqueue", json=trigger(self.key, dedup, summary=summary)).status_code == 202
        incidents = self.api.get("/api/v1/incidents", params={"service_id": self.service_id}).json()["incidents"]
        [incident] = [i for i in incidents if i["dedup_key"] == dedup]
        return incident  # type: ignore[no-any-return]

    def incident(self, incident: dict[str, Any]) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/incidents/{incident['id']}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


class InSlack(Responder):
    def __init__(self, api: httpx.Client, tocsin: Any, admin_token: str, slack: FakeSlack, linked: bool = True) -> None:
        self.channel = slack_id("C")
        super().__init__(api, tocsin, admin_token, "slack", self.channel)
        self.slack = slack
        self.slack_user = slack_id("U")
        self.interactions = f"{tocsin.base_url}/integrations/slack/interactions"
        if linked:
            linking = api.put(f"/api/v1/users/{self.user['id']}/slack", json={"slack_user_id": self.slack_user})
            assert linking.status_code == 200, linking.text

    def page(self, summary: str = "Card payments failing") -> tuple[dict[str, Any], str]:
        """An incident opened, and the ts of the message that paged this person about it."""
        incident = self.open_incident(summary)
        [(ts, _)] = eventually("the page is posted in Slack", lambda: self.slack.posted_to(self.channel))
        return incident, ts

    def message(self, ts: str) -> dict[str, Any]:
        return dict(self.slack.messages[(self.channel, ts)])

    def press(self, ts: str, action_id: str, **signing: Any) -> httpx.Response:
        return self.slack.press(self.interactions, self.channel, ts, self.slack_user, action_id, **signing)


def buttons(message: dict[str, Any]) -> list[str]:
    return [element["action_id"] for block in message["blocks"] if block["type"] == "actions"
            for element in block["elements"]]


def shown_status(message: dict[str, Any]) -> str:
    [section] = [block for block in message["blocks"] if block["type"] == "section"]
    [status] = [field["text"] for field in section["fields"] if field["text"].startswith("Status: ")]
    return status  # type: ignore[no-any-return]


@pytest.fixture
def in_slack(api: httpx.Client, tocsin: Any, admin_token: str, fake_slack: FakeSlack) -> InSlack:
    return InSlack(api, tocsin, admin_token, fake_slack)


# -- a page's buttons -------------------------------------------------------------------------


def test_a_page_carries_buttons_and_a_press_acknowledges_it_and_redraws_the_message(in_slack: InSlack) -> None:
    incident, ts = in_slack.page("Card payments failing <!channel> & *everyone*")

    posted = in_slack.message(ts)
    assert buttons(posted) == ["tocsin_acknowledge", "tocsin_resolve", "tocsin_escalate", "tocsin_open"]
    assert "&lt;!channel&gt; &amp; *everyone*" in str(posted["blocks"])  # shown as written, no one notified
    assert f"Tocsin #{incident['id']}" in posted["text"]  # the fallback text

    pressed = in_slack.press(ts, "tocsin_acknowledge")

    assert pressed.status_code == 200, pressed.text
    assert in_slack.incident(incident)["status"] == "acknowledged"
    assert ("acknowledged", f"slack:{in_slack.name}") in [(e["kind"], e["actor"]) for e in
                                                         in_slack.incident(incident)["timeline"]]
    entry = audited_reply(in_slack.api, incident["id"], "slack")  # in the audit log too, as the linked user
    assert (entry["actor"], entry["action"], entry["after"]["status"]) == (in_slack.user["id"], "acknowledge",
                                                                           "acknowledged")
    redrawn = eventually("the message shows the acknowledgement", lambda: (
        in_slack.message(ts) if "acknowledged" in shown_status(in_slack.message(ts)) else None))
    assert shown_status(redrawn) == f"Status: acknowledged by slack:{in_slack.name}"
    assert buttons(redrawn) == ["tocsin_resolve", "tocsin_escalate", "tocsin_open"]
    update = in_slack.slack.calls_of("chat.update")
    assert any(call.body["channel"] == in_slack.channel and call.body["ts"] == ts for call in update)


def test_a_change_made_elsewhere_redraws_the_message_too(in_slack: InSlack) -> None:
    incident, ts = in_slack.page()

    resolved = in_slack.api.post(f"/api/v1/incidents/{incident['id']}/resolve")

    assert resolved.status_code == 200, resolved.text
    redrawn = eventually("the message shows the incident resolved", lambda: (
        in_slack.message(ts) if "resolved" in shown_status(in_slack.message(ts)) else None))
    assert shown_status(redrawn) == "Status: resolved by api:admin"
    assert buttons(redrawn) == ["tocsin_open"]  # nothing left to press


def test_resolve_and_escalate_act_as_the_linked_user(in_slack: InSlack) -> None:
    incident, ts = in_slack.page()

    assert in_slack.press(ts, "tocsin_escalate").status_code == 200
    assert in_slack.press(ts, "tocsin_resolve").status_code == 200

    timeline = [(e["kind"], e["actor"]) for e in in_slack.incident(incident)["timeline"]]
    assert ("escalated", f"slack:{in_slack.name}") in timeline
    assert ("resolved", f"slack:{in_slack.name}") in timeline


def test_the_same_press_sent_again_acts_once(in_slack: InSlack) -> None:
    incident, ts = in_slack.page()
    at = int(time.time())
    message = in_slack.message(ts)
    [button] = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "tocsin_escalate"]
    payload = {"type": "block_actions", "user": {"id": in_slack.slack_user},
               "channel": {"id": in_slack.channel}, "actions": [{**button, "action_ts": "1767225600.123456"}]}
    form = {"payload": json.dumps(payload)}

    first = in_slack.slack.signed_post(in_slack.interactions, form, timestamp=at)
    again = in_slack.slack.signed_post(in_slack.interactions, form, timestamp=at)  # captured and replayed

    assert first.status_code == again.status_code == 200
    escalations = [e for e in in_slack.incident(incident)["timeline"] if e["kind"] == "escalated"]
    assert len(escalations) == 1, escalations


# -- forged, stale and unlinked --------------------------------------------------------------


def test_forged_and_stale_presses_are_refused(in_slack: InSlack, fake_slack: FakeSlack) -> None:
    incident, ts = in_slack.page()
    impostor = FakeSlack(signing_secret="not-the-signing-secret")
    impostor.messages = fake_slack.messages

    forged = impostor.press(in_slack.interactions, in_slack.channel, ts, in_slack.slack_user, "tocsin_resolve")
    stale = in_slack.press(ts, "tocsin_resolve", timestamp=int(time.time()) - 301)
    unsigned = httpx.post(in_slack.interactions, data={"payload": "{}"})

    refused(forged, 401, "X-Slack-Signature does not match")
    refused(stale, 401, "more than five minutes")
    refused(unsigned, 401, "X-Slack-Signature")
    assert in_slack.incident(incident)["status"] == "triggered"

    assert in_slack.press(ts, "tocsin_resolve").status_code == 200  # the same, signed right, now
    assert in_slack.incident(incident)["status"] == "resolved"


def test_an_unlinked_slack_user_is_told_how_to_link(api: httpx.Client, tocsin: Any, admin_token: str,
                                                    fake_slack: FakeSlack) -> None:
    person = InSlack(api, tocsin, admin_token, fake_slack, linked=False)
    incident, ts = person.page()

    assert person.press(ts, "tocsin_acknowledge").status_code == 200

    assert person.incident(incident)["status"] == "triggered"
    [told] = [e for e in fake_slack.ephemeral if e["user"] == person.slack_user]
    assert told["channel"] == person.channel
    assert "link your account" in told["text"] and person.slack_user in told["text"]


def test_a_payload_that_is_not_an_interaction_is_a_400(in_slack: InSlack) -> None:
    answer = in_slack.slack.signed_post(in_slack.interactions, {"payload": '{"type": "block_actions"}'})
    refused(answer, 400, "payload is not a Slack interaction", "user")


# -- linking ------------------------------------------------------------------------------------


def test_a_slack_user_links_to_one_tocsin_user_at_most(api: httpx.Client, in_slack: InSlack, tocsin: Any,
                                                      admin_token: str) -> None:
    other = create_user(tocsin.base_url, admin_token, "Other")

    taken = api.put(f"/api/v1/users/{other['id']}/slack", json={"slack_user_id": in_slack.slack_user})
    not_an_id = api.put(f"/api/v1/users/{other['id']}/slack", json={"slack_user_id": "@sam"})

    refused(taken, 409, in_slack.slack_user)
    assert not_an_id.status_code == 422
    assert api.get(f"/api/v1/users/{in_slack.user['id']}").json()["slack_user_id"] == in_slack.slack_user
    assert api.delete(f"/api/v1/users/{in_slack.user['id']}/slack").status_code == 204
    assert api.get(f"/api/v1/users/{in_slack.user['id']}").json()["slack_user_id"] is None


# -- /tocsin --------------------------------------------------------------------------------------


@pytest.fixture
def commands_url(tocsin: Any) -> str:
    return f"{tocsin.base_url}/integrations/slack/commands"


def test_tocsin_oncall_says_who_is_on_call(api: httpx.Client, in_slack: InSlack, fake_slack: FakeSlack,
                                           commands_url: str) -> None:
    name = f"Payments {uuid.uuid4().hex[:6]}"
    rotation = {"participants": [in_slack.user["id"]], "start": "2026-01-05T09:00:00+01:00", "shift_length": 1,
                "unit": "weeks", "handoff": "09:00"}
    created = api.post("/api/v1/schedules", json={"name": name, "time_zone": "Europe/Berlin",
                                                  "layers": [{"name": "primary", "rotation": rotation}]})
    assert created.status_code == 201, created.text

    answer = fake_slack.command(commands_url, in_slack.slack_user, "oncall")

    assert answer.status_code == 200, answer.text
    assert answer.json()["response_type"] == "ephemeral"
    assert f"• {name}: {in_slack.name}" in answer.json()["text"]


def test_tocsin_with_anything_else_answers_help_and_strangers_are_told_to_link(
        in_slack: InSlack, fake_slack: FakeSlack, commands_url: str) -> None:
    helped = fake_slack.command(commands_url, in_slack.slack_user, "dance")
    stranger = fake_slack.command(commands_url, slack_id("U"), "oncall")
    forged = FakeSlack(signing_secret="nope").command(commands_url, in_slack.slack_user, "oncall")

    assert "/tocsin oncall" in helped.json()["text"]
    assert "link your account" in stranger.json()["text"]
    refused(forged, 401, "X-Slack-Signature does not match")


# -- Microsoft Teams ------------------------------------------------------------------------------


@pytest.fixture
def teams_workflow() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        receiver.respond(202, "")
        yield receiver


def test_a_page_reaches_teams_as_an_adaptive_card(api: httpx.Client, tocsin: Any, admin_token: str,
                                                  teams_workflow: HttpReceiver) -> None:
    url = f"{teams_workflow.url}/workflows/abc/triggers/manual/paths/invoke?sig=secret-signature"
    person = Responder(api, tocsin, admin_token, "teams", url)

    incident = person.open_incident("Ledger **out of balance** [click](http://evil.example)")

    [request] = eventually("the card reaches the workflow", lambda: teams_workflow.requests)
    assert request.headers["content-type"] == "application/json"
    message = request.json()
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    texts = [block.get("text", "") for block in card["body"]]
    assert any("Ledger \\*\\*out of balance\\*\\* \\[click\\]\\(http://evil\\.example\\)" == t for t in texts), texts
    [facts] = [block["facts"] for block in card["body"] if block["type"] == "FactSet"]
    assert {"title": "Urgency", "value": "high"} in facts
    assert {"title": "Service", "value": "payments & \\<ledger\\>"} in facts
    [action] = card["actions"]
    assert action == {"type": "Action.OpenUrl", "title": "Open in Tocsin",
                      "url": f"{tocsin.base_url}/api/v1/incidents/{incident['id']}"}
    sent = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()["notifications"]
    assert [(n["channel"], n["status"]) for n in sent] == [("teams", "sent")]


def test_a_teams_address_must_be_a_web_url(api: httpx.Client, tocsin: Any, admin_token: str) -> None:
    person = create_user(tocsin.base_url, admin_token, "Tess")
    answer = api.post(f"/api/v1/users/{person['id']}/contact-methods", json={"kind": "teams", "address": "general"})
    assert answer.status_code == 422, answer.text
    assert "teams needs an http or https URL" in answer.text
