"""The demo's push: an Amazon SNS-compatible endpoint (TOCSIN_SNS_ENDPOINT_URL's way) that
Tocsin's SNS provider publishes push notifications to, each put on the phone of the demo person
whose app endpoint it names. It answers `Action=Publish` as SNS's query API does; the request's
signature is not checked (the keys are the demo's own, and nothing else reaches this port's
answers)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from tocsin.cluster.demo.inbox import Inbox
from tocsin.cluster.demo.loopback import Answer, Request

_NS = "http://sns.amazonaws.com/doc/2010-03-31/"


class PushService:
    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    def handle(self, request: Request) -> Answer:
        form = {name: values[-1] for name, values in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        if request.method != "POST" or form.get("Action") != "Publish":
            return _error(400, "InvalidAction", f"the demo's SNS takes Publish, not {form.get('Action')!r}")
        title, body = _shown(form.get("Message", ""), form.get("MessageStructure") == "json")
        if self._inbox.add(form.get("TargetArn", ""), "push", title, body) is None:
            return _error(404, "EndpointDisabled", "no such endpoint")  # SNS's answer for an unknown endpoint
        message_id = str(uuid.uuid4())
        return Answer(200, (f'<PublishResponse xmlns="{_NS}"><PublishResult><MessageId>{message_id}</MessageId>'
                            f"</PublishResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
                            "</ResponseMetadata></PublishResponse>").encode(), "text/xml")


def _shown(message: str, structured: bool) -> tuple[str, str]:
    """The title and text the phone shows: FCM's notification, as an Android phone would."""
    if not structured:
        return "Tocsin", message
    try:
        fcm = json.loads(json.loads(message)["GCM"])
        shown = fcm["fcmV1Message"]["message"]["notification"]
        return str(shown["title"]), str(shown["body"])
    except (ValueError, KeyError, TypeError):
        return "Tocsin", message


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, (f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
                           f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
                           "</ErrorResponse>").encode(), "text/xml")
