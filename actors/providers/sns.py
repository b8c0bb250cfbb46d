"""Amazon SNS: push to a mobile platform endpoint, and SMS to a phone number.

A push contact method's address is the SNS platform endpoint ARN the app registered; an
SMS contact method's address is an E.164 phone number."""

from __future__ import annotations

import json
import re
from typing import Any

from tocsin.actors.domain.plaintext import cut
from tocsin.actors.providers import awsclient
from tocsin.actors.providers.base import Outgoing, ProviderError, Receipt
from tocsin.actors.providers.settings import SnsSettings

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ENDPOINT_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:endpoint/\S+$")
# APNs and FCM refuse a payload over 4 KB: the text shown is cut well short of it.
PUSH_TEXT_LIMIT = 600


def push_payload(message: Outgoing) -> str:
    """The `MessageStructure="json"` body: a title and a body for FCM and APNs, the text
    alone for any other platform."""
    data = {"notification_id": str(message.notification_id)}
    if message.incident_id is not None:
        data["incident_id"] = str(message.incident_id)
    text = cut(message.text, PUSH_TEXT_LIMIT)
    shown = {"title": message.subject, "body": text}
    apns = json.dumps({"aps": {"alert": shown, "sound": "default"}, **data}, ensure_ascii=False)
    fcm = json.dumps({"fcmV1Message": {"message": {"notification": shown, "data": data}}}, ensure_ascii=False)
    return json.dumps({"default": text, "GCM": fcm, "APNS": apns, "APNS_SANDBOX": apns})


class SnsProvider:
    name = "sns"
    channels = frozenset({"push", "sms"})

    def __init__(self, config: SnsSettings) -> None:
        self._client = awsclient.make_client("sns", config.aws, config.endpoint_url, config.timeout_s)

    async def send(self, message: Outgoing) -> Receipt:
        if message.channel == "push":
            request = self._push(message)
        elif message.channel == "sms":
            request = self._sms(message)
        else:
            raise ProviderError(f"sns: cannot carry channel {message.channel!r}", retryable=False)
        answer = await awsclient.call(self.name, self._client.publish, **request)
        return Receipt(provider_message_id=answer.get("MessageId"))

    @staticmethod
    def _push(message: Outgoing) -> dict[str, Any]:
        if not ENDPOINT_ARN.match(message.address):
            raise ProviderError("sns: push address is not an SNS platform endpoint ARN", retryable=False)
        return {"TargetArn": message.address, "MessageStructure": "json", "Message": push_payload(message)}

    @staticmethod
    def _sms(message: Outgoing) -> dict[str, Any]:
        if not E164.match(message.address):
            raise ProviderError("sns: SMS address is not an E.164 phone number", retryable=False)
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        return {"PhoneNumber": message.address, "Message": message.text, "MessageAttributes": attributes}

    async def check(self) -> str:
        """The account's SMS settings: asking for them sends nothing."""
        answer = await awsclient.call(self.name, self._client.get_sms_attributes)
        sms_type = answer.get("attributes", {}).get("DefaultSMSType", "not set")
        return f"the account answers (default SMS type: {sms_type})"

    async def close(self) -> None:
        self._client.close()


def from_settings(config: SnsSettings) -> SnsProvider | None:
    return SnsProvider(config) if config.configured else None
