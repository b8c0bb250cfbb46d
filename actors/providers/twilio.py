"""Twilio: SMS and voice calls through the official client, asynchronously.

A text carries the message; a call fetches its words from Tocsin's voice webhook
(`serve/webhooks/twilio.py`), which also takes the key presses. Both ask Twilio to report
delivery to the status webhook. `twilio_api_url` sends every API call to a
Twilio-compatible endpoint instead (a proxy, or the fake in tests).

Twilio can be asked what it took (`sent_since`, a `Traceable` provider): the texts and
calls from our number to a number, newest first, which are read back until they are older
than asked. A text is known by its words. A call is known by its number only: two calls in
doubt to one number at once cannot be told apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tocsin.actors.providers.base import Outgoing, ProviderError, Receipt, TimedOut
from tocsin.actors.providers.settings import TwilioSettings

# The call's progress, reported to the status webhook as it happens.
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
PAGE_SIZE = 50  # texts or calls per page when asking what was taken
LOOK_BACK = 500  # at most this many read back
CLOCK_SKEW = timedelta(minutes=2)  # between Tocsin's clock and Twilio's

# The library logs every request and response at INFO, ten lines a message: too loud for a
# storm. Its lines go to this logger, quiet unless someone lowers the level to debug.
_http_log = logging.getLogger(f"{__name__}.http")
_http_log.setLevel(logging.WARNING)


def from_settings(config: TwilioSettings) -> TwilioProvider | None:
    return TwilioProvider(config) if config.configured else None


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

    def __init__(self, config: TwilioSettings) -> None:
        assert config.auth_token is not None
        self._sid = config.account_sid
        self._token = config.auth_token
        self._from = config.from_number
        self._api_url = config.api_url
        self._timeout_s = config.timeout_s
        self._base = config.reachable_url
        self._client: Client | None = None
        self._http: _HttpClient | None = None

    @property
    def status_callback(self) -> str:
        return f"{self._base}/webhooks/twilio/status"

    def voice_url(self, notification_id: int) -> str:
        return f"{self._base}/webhooks/twilio/voice?notification={notification_id}"

    async def send(self, message: Outgoing) -> Receipt:
        self._check(message)
        client = self._connect()
        with self._answered(f"the {message.channel}"):
            # The client's own timeout bounds each request; this bounds the whole send.
            sid = await asyncio.wait_for(self._create(client, message), self._timeout_s + 1)
        return Receipt(provider_message_id=sid)

    async def sent_since(self, message: Outgoing, since: datetime) -> list[str]:
        """The texts with these words (calls: any call) Twilio took from our number to
        `message.address` since `since`, oldest first."""
        self._check(message)
        client = self._connect()
        with self._answered(f"the list of {message.channel} sent"):
            found = await asyncio.wait_for(self._taken(client, message, since - CLOCK_SKEW), self._timeout_s + 1)
        return found

    async def _taken(self, client: Client, message: Outgoing, since: datetime) -> list[str]:
        """Reads back, newest first, until a whole page's worth in a row is older than
        `since`: a list sorted by when each was sent may place one not sent yet anywhere."""
        if message.channel == "sms":
            listed = await client.messages.stream_async(to=message.address, from_=self._from, limit=LOOK_BACK,
                                                        page_size=PAGE_SIZE)
        else:
            listed = await client.calls.stream_async(to=message.address, from_=self._from, limit=LOOK_BACK,
                                                     page_size=PAGE_SIZE)
        found: list[str] = []
        older = 0
        async with contextlib.aclosing(listed):
            async for taken in listed:
                created: datetime | None = taken.date_created
                if created is not None and created < since:
                    older += 1
                    if older >= PAGE_SIZE:
                        break
                    continue
                older = 0
                # A trial account's texts start with a notice: the words are looked for within.
                if message.channel != "sms" or message.text in (taken.body or ""):
                    found.append(str(taken.sid))
        return found[::-1]

    async def check(self) -> str:
        """The account the credentials open (fetched, as Twilio's console shows it), and its state."""
        client = self._connect()
        with self._answered("the account's credentials"):
            account = await asyncio.wait_for(client.api.v2010.accounts(self._sid).fetch_async(), self._timeout_s + 1)
        return f"account {account.sid} ({account.friendly_name}, {account.status})"

    def _check(self, message: Outgoing) -> None:
        if message.channel not in self.channels:
            raise ProviderError(f"twilio cannot carry {message.channel} messages", retryable=False)

    @contextlib.contextmanager
    def _answered(self, what: str) -> Iterator[None]:
        """Whatever the client raises, as the `ProviderError` it means."""
        try:
            yield
        except TwilioRestException as exc:
            retryable = exc.status >= 500 or exc.status in (408, 429)
            raise ProviderError(self._scrub(f"twilio refused {what}: HTTP {exc.status},"
                                            f" error {exc.code}: {exc.msg}"), retryable=retryable) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise TimedOut(f"twilio did not answer within {self._timeout_s:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderError(self._scrub(f"twilio is unreachable: {type(exc).__name__}: {exc}")) from None
        except TwilioException as exc:
            raise ProviderError(self._scrub(f"twilio answered oddly: {exc}")) from None

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
