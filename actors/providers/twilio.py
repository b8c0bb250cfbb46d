"""Twilio: SMS and voice calls through the official client, asynchronously.

A text carries the message; a call fetches its words from Tocsin's voice webhook
(`serve/webhooks/twilio.py`), which also takes the key presses. Both ask Twilio to report
delivery to the status webhook. `twilio_api_url` sends every API call to a
Twilio-compatible endpoint instead (a proxy, or the fake in tests).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from actors.providers.base import Outgoing, ProviderError, Receipt, TimedOut
from cluster.settings import Settings

# The call's progress, reported to the status webhook as it happens.
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]

# The library logs every request and response at INFO, ten lines a message: too loud for a
# storm. Its lines go to this logger, quiet unless someone lowers the level to debug.
_http_log = logging.getLogger(f"{__name__}.http")
_http_log.setLevel(logging.WARNING)


def configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number)


def from_settings(settings: Settings) -> TwilioProvider | None:
    return TwilioProvider(settings) if configured(settings) else None


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # the library is untyped
    """The library's aiohttp client, sent to `api_url` when set and bounded by `timeout`
    on every request (the library's async client leaves requests unbounded)."""

    def __init__(self, api_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_http_log)
        self._api_url = api_url.rstrip("/") if api_url else None

    async def request(self, method: str, url: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None, timeout: float | None = None,
                      allow_redirects: bool = False) -> Response:
        if self._api_url:
            parts = urlsplit(url)
            url = self._api_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return await super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                     timeout=timeout or self.timeout, allow_redirects=allow_redirects)


class TwilioProvider:
    """Sends SMS and places calls from `twilio_from_number`. The HTTP session is opened on
    the first send (it belongs to the event loop that sends) and kept until `close`."""

    name = "twilio"
    channels = frozenset({"sms", "voice"})

    def __init__(self, settings: Settings) -> None:
        assert settings.twilio_auth_token is not None
        self._sid = settings.twilio_account_sid
        self._token = settings.twilio_auth_token
        self._from = settings.twilio_from_number
        self._api_url = settings.twilio_api_url
        self._timeout_s = settings.provider_timeout_s
        self._base = settings.reachable_url
        self._client: Client | None = None
        self._http: _HttpClient | None = None

    @property
    def status_callback(self) -> str:
        return f"{self._base}/webhooks/twilio/status"

    def voice_url(self, notification_id: int) -> str:
        return f"{self._base}/webhooks/twilio/voice?notification={notification_id}"

    async def send(self, message: Outgoing) -> Receipt:
        if message.channel not in self.channels:
            raise ProviderError(f"twilio cannot carry {message.channel} messages", retryable=False)
        client = self._connect()
        try:
            # The client's own timeout bounds each request; this bounds the whole send.
            sid = await asyncio.wait_for(self._create(client, message), self._timeout_s + 1)
        except TwilioRestException as exc:
            retryable = exc.status >= 500 or exc.status in (408, 429)
            raise ProviderError(self._scrub(f"twilio refused the {message.channel}: HTTP {exc.status},"
                                            f" error {exc.code}: {exc.msg}"), retryable=retryable) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise TimedOut(f"twilio did not answer within {self._timeout_s:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderError(self._scrub(f"twilio is unreachable: {type(exc).__name__}: {exc}")) from None
        except TwilioException as exc:
            raise ProviderError(self._scrub(f"twilio answered oddly: {exc}")) from None
        return Receipt(provider_message_id=sid)

    async def _create(self, client: Client, message: Outgoing) -> str | None:
        created: Any
        if message.channel == "sms":
            created = await client.messages.create_async(
                to=message.address, from_=self._from, body=message.text, status_callback=self.status_callback,
            )
        else:
            created = await client.calls.create_async(
                to=message.address, from_=self._from, url=self.voice_url(message.notification_id),
                status_callback=self.status_callback, status_callback_event=CALL_EVENTS,
            )
        sid: str | None = created.sid
        return sid

    def _connect(self) -> Client:
        if self._client is None:
            self._http = _HttpClient(self._api_url, self._timeout_s)
            self._client = Client(self._sid, self._token.get_secret_value(), http_client=self._http)
        return self._client

    def _scrub(self, text: str) -> str:
        """Whatever an answer echoed, the auth token does not leave this object."""
        return text.replace(self._token.get_secret_value(), "**********")

    async def close(self) -> None:
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()
