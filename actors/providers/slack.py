"""Slack: an incoming-webhook URL as the address posts there; a channel id as the address
posts through `chat.postMessage` with the bot token.

Slack's Web API answers 200 with `{"ok": false, "error": …}` when it refuses; only rate
limiting and trouble on Slack's side are worth another try.

Slack reads `&`, `<` and `>` in a message's text as markup (`<!channel>` notifies everyone in
the channel, `<https://…|words>` is a link): the text is sent with those three escaped as
Slack's formatting reference asks, so it shows as written, and only Tocsin's own link to the
incident is markup."""

from __future__ import annotations

import json
import re

from tocsin.actors.providers import httpclient
from tocsin.actors.providers.base import Outgoing, ProviderError, Receipt
from tocsin.actors.providers.resolver import Resolve, resolve
from tocsin.actors.providers.settings import SlackSettings

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
ERROR_CODE = re.compile(r"^[a-z0-9_]{1,64}$")
# Web API errors that say "not now" rather than "not this".
RETRYABLE_ERRORS = frozenset({
    "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
})


def escaped(words: str) -> str:
    """Text as Slack shows it as written: `&`, `<` and `>` as their HTML entities, nothing else."""
    return words.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text(message: Outgoing) -> str:
    """The message's text, escaped, and Tocsin's link to the incident as a link."""
    shown = escaped(message.text)
    if message.link is None:
        return shown
    return f"{shown}\n<{escaped(message.link)}|Open in Tocsin>"


class SlackProvider:
    name = "slack"
    channels = frozenset({"slack"})

    def __init__(self, config: SlackSettings, resolver: Resolve = resolve) -> None:
        self._token = config.bot_token
        self._api_url = config.api_url.rstrip("/")
        # Incoming-webhook URLs and the Web API alike go to allowed addresses only.
        self._client = httpclient.make_client(config.allowed_destinations, config.timeout_s, resolver)

    async def send(self, message: Outgoing) -> Receipt:
        if CHANNEL_ID.match(message.address):
            return await self._post_message(message)
        url = httpclient.check_url(self.name, message.address, https_only=True)
        body = json.dumps({"text": text(message)}).encode()
        await httpclient.post(self._client, self.name, url, content=body, headers={"Content-Type": "application/json"})
        return Receipt()

    async def _post_message(self, message: Outgoing) -> Receipt:
        if self._token is None:
            raise ProviderError("slack: a channel id needs a bot token, and none is configured", retryable=False)
        url = httpclient.check_url(self.name, f"{self._api_url}/chat.postMessage", https_only=True)
        body = json.dumps({"channel": message.address, "text": text(message)}).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {self._token.get_secret_value()}",
        }
        response = await httpclient.post(self._client, self.name, url, content=body, headers=headers)
        try:
            answer = response.json()
        except ValueError:
            raise ProviderError("slack: chat.postMessage answered something that is not JSON", retryable=True) from None
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            error = answer.get("error") if isinstance(answer, dict) else None
            code = error if isinstance(error, str) and ERROR_CODE.match(error) else "unknown_error"
            raise ProviderError(f"slack: chat.postMessage refused: {code}", retryable=code in RETRYABLE_ERRORS)
        ts = answer.get("ts")
        return Receipt(provider_message_id=ts if isinstance(ts, str) else None)

    async def close(self) -> None:
        await self._client.aclose()


def from_settings(config: SlackSettings) -> SlackProvider:
    """Always configured: incoming-webhook addresses need no settings."""
    return SlackProvider(config)
