"""Web Push without a network: the action tokens' rules, the payload a service worker gets
(decrypted as a browser does), and the TTL and Urgency a page's urgency gives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.domain import push_actions
from tocsin.actors.domain.push_actions import Action
from tocsin.actors.providers import vapid, webpush
from tocsin.actors.providers.base import Outgoing

KEY = vapid.action_key(vapid.generate())
NOW = datetime(2026, 5, 1, 3, 0, tzinfo=timezone.utc)


def test_a_token_names_its_notification_and_action_and_nothing_else() -> None:
    token = push_actions.mint(KEY, 42, Action.ACKNOWLEDGE)

    assert push_actions.read(KEY, token) == (42, Action.ACKNOWLEDGE)
    assert push_actions.read(vapid.action_key(vapid.generate()), token) is None  # another Tocsin's key
    forged_action = token.replace(".a.", ".r.")
    forged_notification = token.replace("1.42.", "1.43.", 1)
    for forged in (forged_action, forged_notification, token[:-1] + ("A" if token[-1] != "A" else "B"), "", "1.42.a",
                   "2" + token[1:], "1.99999999999999999999.a.x"):
        assert push_actions.read(KEY, forged) is None, forged


def test_a_token_stops_working_when_its_incident_is_resolved_or_gone_or_after_its_lifetime() -> None:
    sent = NOW - timedelta(minutes=5)
    assert push_actions.refusal("triggered", sent, NOW) is None
    assert push_actions.refusal("acknowledged", sent, NOW) is None  # resolving it still works
    assert "resolved" in str(push_actions.refusal("resolved", sent, NOW))
    assert "no longer exists" in str(push_actions.refusal(None, sent, NOW))
    assert "expired" in str(push_actions.refusal("triggered", NOW - push_actions.LIFETIME - timedelta(seconds=1), NOW))


def test_a_page_carries_its_incident_words_urgency_and_one_token_per_action() -> None:
    message = Outgoing(7, "webpush", "https://push.example.net/x", "[Tocsin #3] Disk full", "x" * 5000,
                       incident_id=3, urgency="high")

    data = webpush.payload(message, KEY, "https://tocsin.example.com")

    assert (data["notification_id"], data["incident_id"], data["urgency"]) == (7, 3, "high")
    assert data["title"] == "[Tocsin #3] Disk full" and len(data["body"]) <= webpush.BODY_LIMIT
    assert data["url"] == "https://tocsin.example.com/ui/incidents/3"
    assert data["action_url"] == "https://tocsin.example.com/api/v1/push/actions"
    assert {push_actions.read(KEY, t) for t in data["actions"].values()} == {(7, Action.ACKNOWLEDGE),
                                                                              (7, Action.RESOLVE)}


def test_a_message_about_no_incident_carries_no_actions() -> None:
    data = webpush.payload(Outgoing(8, "webpush", "https://push.example.net/x", "Tocsin", "hello"), KEY, "https://t")
    assert "actions" not in data and data["incident_id"] is None


@pytest.mark.parametrize("urgency, ttl, header", [("high", "3600", "high"), ("low", "43200", "normal"),
                                                   (None, "3600", "normal")])
def test_ttl_and_urgency_follow_the_pages_urgency(urgency: str | None, ttl: str, header: str) -> None:
    assert webpush.delivery_headers(urgency) == {"TTL": ttl, "Urgency": header}


def test_a_vapid_key_is_read_raw_or_as_pem_and_its_public_key_checked() -> None:
    raw = vapid.generate()
    key = vapid.private_key(raw)
    pem = key.private_bytes(vapid.serialization.Encoding.PEM, vapid.serialization.PrivateFormat.PKCS8,
                            vapid.serialization.NoEncryption()).decode()
    public = vapid.public_key(key)

    assert vapid.public_key(vapid.private_key(pem)) == public and len(vapid.b64url_decode(public)) == 65
    assert vapid.checked_public_key(raw, public) == public
    with pytest.raises(vapid.VapidKeyError, match="not the public key"):
        vapid.checked_public_key(raw, vapid.public_key(vapid.private_key(vapid.generate())))
    with pytest.raises(vapid.VapidKeyError):
        vapid.private_key("not-a-key")
