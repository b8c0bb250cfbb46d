"""Web Push (RFC 8030): a page straight to the browser's own push service, with no relay.

A webpush contact method's address is the subscription's endpoint, a URL at the browser's
push service (FCM, Mozilla's, Apple's); the message carries the subscription's keys
(`Outgoing.push_keys`). Each push is:

- JSON (`payload`): the incident, a title and a body, the urgency, the link to the incident,
  and for a page the Acknowledge and Resolve action tokens (actors/domain/push_actions.py)
  with where to send them; encrypted to the subscription's keys with pywebpush (RFC 8291,
  aes128gcm), so the push service sees none of it;
- signed with VAPID (RFC 8292): a JWT for the endpoint's origin, cached for a while;
- given a TTL and an `Urgency` header from the page's urgency (`delivery_headers`).

It goes through the HTTP client every outbound request of Tocsin uses (httpclient.py), so
the endpoint's host is checked like any user-given URL. 201 is taken; 404 and 410 mean the
subscription is gone (`AddressGone`: the contact method is removed); 429 and 5xx may pass.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from py_vapid import Vapid02, VapidException
from pywebpush import WebPusher, WebPushException

from tocsin.actors.domain import push_actions
from tocsin.actors.domain.plaintext import cut
from tocsin.actors.providers import httpclient, vapid
from tocsin.actors.providers.base import AddressGone, Outgoing, ProviderError, Receipt
from tocsin.actors.providers.resolver import Resolve, resolve
from tocsin.actors.providers.settings import WebPushSettings

# Push services take about 4 KB of payload: the text shown is cut well short of it.
BODY_LIMIT = 1000
# How long a push service keeps a message for a browser that is offline: a high-urgency page
# is stale once the next rule has taken over; a low-urgency one can wait for the morning.
TTL_S = {"high": 3600, "low": 12 * 3600}
URGENCY = {"high": "high", "low": "normal"}
DEFAULT_TTL_S = 3600
GONE = (404, 410)
# A VAPID JWT is good for at most 24 hours; ours for 12, signed again an hour before it ends.
JWT_LIFETIME_S = 12 * 3600
JWT_RENEW_S = 3600


def payload(message: Outgoing, action_key: bytes, reachable_url: str) -> dict[str, Any]:
    """What the service worker gets, once decrypted."""
    data: dict[str, Any] = {
        "notification_id": message.notification_id,
        "incident_id": message.incident_id,
        "title": message.subject,
        "body": cut(message.text, BODY_LIMIT),
        "urgency": message.urgency,
    }
    if message.incident_id is not None:
        data["url"] = f"{reachable_url}/ui/incidents/{message.incident_id}"
        data["action_url"] = f"{reachable_url}/api/v1/push/actions"
        data["actions"] = {action.value: push_actions.mint(action_key, message.notification_id, action)
                           for action in push_actions.Action}
    return data


def delivery_headers(urgency: str | None) -> dict[str, str]:
    """TTL and Urgency (RFC 8030 §5.2, §5.3) for a page of this urgency."""
    return {"TTL": str(TTL_S.get(urgency or "", DEFAULT_TTL_S)), "Urgency": URGENCY.get(urgency or "", "normal")}


class WebPushProvider:
    name = "webpush"
    channels = frozenset({"webpush"})
    per_destination = True  # each push service is a server of its own: a circuit breaker per service

    def __init__(self, config: WebPushSettings, resolver: Resolve = resolve) -> None:
        assert config.vapid_private_key is not None
        private = config.vapid_private_key.get_secret_value()
        self._vapid = Vapid02.from_raw(vapid.raw_private(vapid.private_key(private)).encode())
        self._action_key = vapid.action_key(private)
        self._subject = config.vapid_subject
        self._reachable_url = config.reachable_url
        self._signed: dict[str, tuple[float, str]] = {}  # audience -> (expiry, Authorization)
        self._client = httpclient.make_client(config.allowed_destinations, config.timeout_s, resolver)

    async def send(self, message: Outgoing) -> Receipt:
        url = httpclient.check_url(self.name, message.address, https_only=True)
        body = self._encrypted(message)
        headers = {"Authorization": self._authorization(message.address), "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream", **delivery_headers(message.urgency)}
        try:
            answered = await httpclient.post(self._client, self.name, url, content=body, headers=headers)
        except httpclient.Refused as refused:
            if refused.status in GONE:
                raise AddressGone(f"{self.name}: the subscription is gone (HTTP {refused.status} from"
                                  f" {url.host})") from None
            raise
        # The push service names the message it took in Location (RFC 8030 §5).
        return Receipt(provider_message_id=answered.get("Location"))

    def _encrypted(self, message: Outgoing) -> bytes:
        if message.push_keys is None:
            raise ProviderError(f"{self.name}: the contact method has no subscription keys", retryable=False)
        p256dh, auth = message.push_keys
        data = json.dumps(payload(message, self._action_key, self._reachable_url), ensure_ascii=False).encode()
        try:
            pusher = WebPusher({"endpoint": message.address, "keys": {"p256dh": p256dh, "auth": auth}})
            encoded = pusher.encode(data, "aes128gcm")
        except (WebPushException, ValueError, TypeError) as exc:
            raise ProviderError(f"{self.name}: cannot encrypt to the subscription's keys: {type(exc).__name__}",
                                retryable=False) from None
        body: bytes = encoded["body"]
        return body

    def _authorization(self, endpoint: str) -> str:
        """`vapid t=<JWT>, k=<public key>` for the endpoint's push service, signed again
        before it runs out."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._signed.get(audience)
        if cached is not None and cached[0] - now > JWT_RENEW_S:
            return cached[1]
        expiry = int(now) + JWT_LIFETIME_S
        try:
            signed: dict[str, str] = self._vapid.sign({"aud": audience, "exp": expiry, "sub": self._subject})
        except VapidException as exc:  # a subject push services would refuse: no push can go
            raise ProviderError(f"{self.name}: cannot sign with VAPID: {exc}", retryable=False) from None
        self._signed[audience] = (expiry, signed["Authorization"])
        return signed["Authorization"]

    async def close(self) -> None:
        await self._client.aclose()


def from_settings(config: WebPushSettings) -> WebPushProvider | None:
    return WebPushProvider(config) if config.configured else None
