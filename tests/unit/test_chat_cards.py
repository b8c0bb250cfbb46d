"""Pages as Slack's Block Kit blocks and Teams' Adaptive Card, and Slack's request signatures."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from slack_sdk.signature import SignatureVerifier

from tocsin.actors.domain.chat_cards import (
    ADAPTIVE_CARD,
    SLACK_HEADER_LIMIT,
    SLACK_SUMMARY_LIMIT,
    PageView,
    slack_blocks,
    slack_text,
    teams_message,
)
from tocsin.serve.webhooks.slack import signature_problem

LINK = "https://tocsin.example/api/v1/incidents/12"
HOSTILE = "Disk full <!channel> & <https://evil.example|click> *now* _x_ [a](http://b)"


def view(**changes: object) -> PageView:
    fields: dict[str, object] = {"incident_id": 12, "service": "payments", "summary": HOSTILE, "urgency": "high",
                                 "link": LINK, **changes}
    return PageView(**fields)  # type: ignore[arg-type]


def action_ids(blocks: list[dict[str, object]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index,union-attr]


@pytest.mark.parametrize(("status", "expected"), [
    ("triggered", ["tocsin_acknowledge", "tocsin_resolve", "tocsin_escalate", "tocsin_open"]),
    ("acknowledged", ["tocsin_resolve", "tocsin_escalate", "tocsin_open"]),
    ("resolved", ["tocsin_open"]),
])
def test_the_buttons_are_those_that_still_make_sense(status: str, expected: list[str]) -> None:
    assert action_ids(slack_blocks(view(status=status, by="slack:Ann"))) == expected


def test_each_button_names_its_incident_and_the_link_button_opens_it() -> None:
    [actions] = [b for b in slack_blocks(view()) if b["type"] == "actions"]
    values = {e["action_id"]: e.get("value") for e in actions["elements"]}
    assert values == {"tocsin_acknowledge": "12", "tocsin_resolve": "12", "tocsin_escalate": "12", "tocsin_open": None}
    assert actions["elements"][-1]["url"] == LINK


def test_the_alerts_words_show_as_written_in_slack() -> None:
    blocks = slack_blocks(view())
    texts = [t for b in blocks for t in [b.get("text"), *b.get("fields", [])] if t]
    assert all(t["type"] == "plain_text" and t["emoji"] is False for t in texts)  # no mrkdwn: no formatting
    section = next(b for b in blocks if b["type"] == "section")
    assert section["text"]["text"] == ("Disk full &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; *now* _x_"
                                       " [a](http://b)")
    assert "<!channel>" not in slack_text(view())


def test_control_characters_never_reach_a_chat() -> None:
    bell = view(summary="beep\x07\x1b[31m", service="pay\x00ments")
    sent = json.dumps(slack_blocks(bell)) + json.dumps(slack_text(bell)) + json.dumps(teams_message(bell))
    for control in ("\\u0007", "\\u001b", "\\u0000"):  # as JSON writes them
        assert control not in sent


def test_slack_limits_hold_for_any_length() -> None:
    blocks = slack_blocks(view(summary="x" * 50_000, service="s" * 500))
    header = next(b for b in blocks if b["type"] == "header")
    section = next(b for b in blocks if b["type"] == "section")
    assert len(header["text"]["text"]) <= SLACK_HEADER_LIMIT
    assert len(section["text"]["text"]) <= SLACK_SUMMARY_LIMIT
    assert len(slack_text(view(summary="x" * 50_000))) < 40_000  # where Slack cuts a message's text


def test_who_acted_is_shown_with_the_status() -> None:
    section = next(b for b in slack_blocks(view(status="acknowledged", by="slack:Ann")) if b["type"] == "section")
    assert section["fields"][1]["text"] == "Status: acknowledged by slack:Ann"


def test_the_teams_message_has_the_structure_teams_requires() -> None:
    message = json.loads(json.dumps(teams_message(view())))  # as sent
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4" and card["body"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in Tocsin", "url": LINK}]
    summary = card["body"][1]["text"]
    assert summary == ("Disk full \\<\\!channel\\> & \\<https://evil\\.example\\|click\\> \\*now\\* \\_x\\_"
                       " \\[a\\]\\(http://b\\)")


def test_a_teams_card_without_a_link_has_no_action() -> None:
    assert teams_message(view(link=None))["attachments"][0]["content"]["actions"] == []


# -- Slack's signatures ---------------------------------------------------------------------------

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def signed_at(at: int, body: bytes = BODY, secret: str = SECRET) -> str:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(at), body=body)
    assert signature is not None
    return signature


def test_a_request_slack_signed_just_now_passes() -> None:
    at = int(NOW.timestamp()) - 299
    assert signature_problem(SECRET, BODY, str(at), signed_at(at), NOW) is None


@pytest.mark.parametrize(("timestamp", "signature", "problem"), [
    (None, "v0=abc", "are required"),
    ("1772366400", None, "are required"),
    ("soon", "v0=abc", "not a time"),
    ("1772366099", signed_at(1772366099), "more than five minutes"),  # 301 s old, signed right
    ("1772366701", signed_at(1772366701), "more than five minutes"),  # 301 s ahead
    ("1772366400", signed_at(1772366400, secret="another secret"), "does not match"),
    ("1772366400", signed_at(1772366400, body=BODY + b"x"), "does not match"),
    ("1772366400", signed_at(1772366399), "does not match"),  # another timestamp's signature
])
def test_forged_old_or_incomplete_requests_are_refused(timestamp: str | None, signature: str | None,
                                                       problem: str) -> None:
    assert int(NOW.timestamp()) == 1772366400
    found = signature_problem(SECRET, BODY, timestamp, signature, NOW)
    assert found is not None and problem in found
