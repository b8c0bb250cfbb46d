"""Outbound webhooks: a JSON POST to the contact method's URL, signed so the receiver can
tell it came from this Tocsin and is fresh.

Signature scheme (v1): `X-Tocsin-Timestamp: <unix seconds>` and
`X-Tocsin-Signature: v1=<hex HMAC-SHA256 over "<timestamp>.<raw body>" keyed with
webhook_signing_secret>`. A receiver recomputes it over the raw body it got (see
`verify_signature`) and refuses timestamps too far from its own clock, so a captured request
cannot be replayed later. Without a signing secret the requests go out unsigned."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.providers import httpclient
from tocsin.actors.providers.base import Outgoing, Receipt
from tocsin.actors.providers.resolver import Resolve, resolve
from tocsin.actors.providers.settings import WebhookSettings

TIMESTAMP_HEADER = "X-Tocsin-Timestamp"
SIGNATURE_HEADER = "X-Tocsin-Signature"
SCHEME = "v1"


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The `X-Tocsin-Signature` value for this timestamp and raw body."""
    digest = hmac.new(_bytes(secret), _bytes(str(timestamp)) + b"." + _bytes(body), hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify_signature(secret: str | bytes, timestamp: int | str, body: str | bytes, signature: str,
                     now: float | datetime, tolerance_s: float = 300) -> bool:
    """True when `signature` (the header; several comma-separated `v1=` values are allowed,
    as during a secret rotation) signs `body` at `timestamp`, and `timestamp` is within
    `tolerance_s` of `now` (unix seconds or an aware datetime)."""
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - sent_at) > tolerance_s:
        return False
    expected = sign(secret, sent_at, body)
    offered = (part.strip() for part in signature.split(","))
    return any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered)


def payload(message: Outgoing, sent_at: datetime) -> bytes:
    return json.dumps({
        "notification_id": message.notification_id,
        "incident_id": message.incident_id,
        "subject": message.subject,
        "text": message.text,
        "sent_at": sent_at.isoformat(),
    }, separators=(",", ":")).encode()


class WebhookProvider:
    name = "webhook"
    channels = frozenset({"webhook"})
    per_destination = True  # each address is a server of its own: a circuit breaker per server

    def __init__(self, config: WebhookSettings, clock: Clock | None = None, resolver: Resolve = resolve) -> None:
        self._secret = config.signing_secret
        self._clock = clock or SystemClock()
        self._client = httpclient.make_client(config.allowed_destinations, config.timeout_s, resolver)

    async def send(self, message: Outgoing) -> Receipt:
        url = httpclient.check_url(self.name, message.address, https_only=False)
        now = self._clock.now()
        body = payload(message, now)
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            timestamp = int(now.timestamp())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(self._secret.get_secret_value(), timestamp, body)
        await httpclient.post(self._client, self.name, url, content=body, headers=headers)
        return Receipt()

    async def close(self) -> None:
        await self._client.aclose()


def from_settings(config: WebhookSettings) -> WebhookProvider:
    """Always configured: unsigned when no signing secret is set."""
    return WebhookProvider(config)
