"""Slack's Web API through Slack's own client, slack_sdk's AsyncWebClient: a page posted with
its buttons (chat.postMessage), the same message drawn again as its incident changes
(chat.update), and a word to one person only (chat.postEphemeral).

The client runs on aiohttp. Its connections go to checked addresses only, as the webhook
providers' do (resolver.py): a name is resolved by a resolver that refuses the whole name
when any address it gives may not be reached, and an address written in the URL is checked
before each call. slack_sdk's own retries are off: Tocsin's retry rules and breakers decide.

Slack answers 200 with `{"ok": false, "error": …}` when it refuses; only rate limiting and
trouble on Slack's side are worth another try. Errors name Slack's error code and never the
token.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from tocsin.actors.domain.destinations import Network
from tocsin.actors.providers.base import ProviderError, TimedOut
from tocsin.actors.providers.httpclient import REFUSED, retryable_status, verifying_context
from tocsin.actors.providers.resolver import CheckedResolver, DestinationRefused, Resolve, checked_literal, resolve

log = logging.getLogger(__name__)

ERROR_CODE = re.compile(r"^[a-z0-9_]{1,64}$")
# Web API errors that say "not now" rather than "not this".
RETRYABLE_ERRORS = frozenset({
    "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
})
PROVIDER = "slack"


class SlackWebApi:
    """The Web API as the bot (TOCSIN_SLACK_BOT_TOKEN) at `api_url`. Made outside a loop; its
    session is opened by the first call, on that call's loop."""

    def __init__(self, token: SecretStr, api_url: str, allowed: tuple[Network, ...], timeout_s: float,
                 resolver: Resolve = resolve) -> None:
        self._token = token
        self._api_url = api_url.rstrip("/") + "/"
        self._allowed = allowed
        self._timeout_s = timeout_s
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    async def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> tuple[str, str]:
        """Post a message (text alone, or blocks with `text` as their fallback); the channel it
        is in and its ts, which name it for chat.update."""
        laid_out = {"blocks": blocks} if blocks else {}
        answer = await self._call("chat.postMessage", channel=channel, text=text, **laid_out)
        posted_in, ts = answer.get("channel"), answer.get("ts")
        if not isinstance(ts, str) or not ts:
            raise ProviderError("slack: chat.postMessage answered without the message's ts", retryable=False)
        return (posted_in if isinstance(posted_in, str) and posted_in else channel), ts

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        await self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    async def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        """A message only `user` sees, in `channel`."""
        await self._call("chat.postEphemeral", channel=channel, user=user, text=text)

    async def whoami(self) -> str:
        """The bot and workspace the token belongs to (auth.test: it posts nothing)."""
        answer = await self._call("auth.test")
        return f"bot {answer.get('user', '?')} in workspace {answer.get('team', '?')}"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = self._client = None

    async def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        try:
            # An address written in the URL is connected to without asking the resolver.
            checked_literal(urlsplit(self._api_url).hostname or "", self._allowed)
            response = await self._web().api_call(method, json=arguments)
        except SlackApiError as exc:
            raise _refusal(method, exc) from None
        except DestinationRefused as refused:
            log.warning("slack: not sent: %s", refused)
            raise ProviderError(f"slack: {REFUSED}", retryable=False) from None
        except asyncio.TimeoutError:
            raise TimedOut(f"slack: no answer from {method} in time") from None
        except (aiohttp.ClientError, SlackClientError, OSError) as exc:
            raise ProviderError(f"slack: {type(exc).__name__} calling {method}", retryable=True) from None
        except (AttributeError, ValueError):  # slack_sdk reading an answer that is not a JSON object
            raise ProviderError(f"slack: {method} answered something that is not JSON", retryable=True) from None
        data = response.data
        return data if isinstance(data, dict) else {}

    def _web(self) -> AsyncWebClient:
        if self._client is None:
            connector = aiohttp.TCPConnector(resolver=CheckedResolver(self._allowed, self._resolver),
                                             use_dns_cache=False, ssl=verifying_context())
            # slack_sdk applies its timeout only to sessions of its own: this one has it too.
            self._session = aiohttp.ClientSession(connector=connector,
                                                  timeout=aiohttp.ClientTimeout(total=self._timeout_s))
            self._client = AsyncWebClient(token=self._token.get_secret_value(), base_url=self._api_url,
                                          timeout=max(1, math.ceil(self._timeout_s)), session=self._session,
                                          retry_handlers=[])
        return self._client


def _refusal(method: str, exc: SlackApiError) -> ProviderError:
    data = getattr(exc.response, "data", None)
    status = getattr(exc.response, "status_code", 200)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str) and ERROR_CODE.match(error):
        return ProviderError(f"slack: {method} refused: {error}", retryable=error in RETRYABLE_ERRORS)
    if status != 200:
        return ProviderError(f"slack: HTTP {status} from {method}", retryable=retryable_status(status))
    return ProviderError(f"slack: {method} refused: unknown_error", retryable=False)
