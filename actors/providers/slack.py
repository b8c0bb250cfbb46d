"""Slack: an incoming-webhook URL as the address posts there; a channel or user id as the
address posts through the Web API with the bot token (slack_web.py).

Through the Web API a page is a Block Kit message with Acknowledge, Resolve and Escalate
buttons (tocsin.actors.domain.chat_cards), and the provider message id it gets is
"<channel>:<ts>", which names the message for chat.update: the Slack channel actor keeps it
showing its incident as it is (actors/slack_messages.py). A press of a button comes back to
Tocsin as an interaction (serve/webhooks/slack.py). Incoming webhooks cannot carry
interactive buttons to Tocsin's app, so through them a page is text, as before.

Slack reads `&`, `<` and `>` in a message's text as markup (`<!channel>` notifies everyone in
the channel, `<https://…|words>` is a link): the text is sent with those three escaped as
Slack's formatting reference asks, so it shows as written, and only Tocsin's own link to the
incident is markup."""

from __future__ import annotations

import json

from tocsin.actors.domain.channels import SLACK_WEB_API_ADDRESS
from tocsin.actors.domain.chat_cards import PageView, slack_blocks, slack_escaped, slack_text
from tocsin.actors.providers import httpclient
from tocsin.actors.providers.base import Outgoing, ProviderError, Receipt
from tocsin.actors.providers.resolver import Resolve, resolve
from tocsin.actors.providers.settings import SlackSettings
from tocsin.actors.providers.slack_web import SlackWebApi



def text(message: Outgoing) -> str:
    """The message's text, escaped, and Tocsin's link to the incident as a link."""
    shown = slack_escaped(message.text)
    if message.link is None:
        return shown
    return f"{shown}\n<{slack_escaped(message.link)}|Open in Tocsin>"


def message_id(channel: str, ts: str) -> str:
    """The provider message id of a message posted through the Web API."""
    return f"{channel}:{ts}"


def posted_message(provider_message_id: str) -> tuple[str, str] | None:
    """The channel and ts a provider message id names; None for one that names no message."""
    channel, colon, ts = provider_message_id.partition(":")
    return (channel, ts) if colon and channel and ts else None


class SlackProvider:
    name = "slack"
    channels = frozenset({"slack"})

    def __init__(self, config: SlackSettings, resolver: Resolve = resolve) -> None:
        # Incoming-webhook URLs and the Web API alike go to allowed addresses only.
        self._client = httpclient.make_client(config.allowed_destinations, config.timeout_s, resolver)
        self.web: SlackWebApi | None = None
        if config.bot_token is not None:
            self.web = SlackWebApi(config.bot_token, config.api_url, config.allowed_destinations, config.timeout_s,
                                   resolver)

    async def send(self, message: Outgoing) -> Receipt:
        if SLACK_WEB_API_ADDRESS.fullmatch(message.address):
            return await self._post_message(message)
        url = httpclient.check_url(self.name, message.address, https_only=True)
        body = json.dumps({"text": text(message)}).encode()
        await httpclient.post(self._client, self.name, url, content=body, headers={"Content-Type": "application/json"})
        return Receipt()

    async def _post_message(self, message: Outgoing) -> Receipt:
        if self.web is None:
            raise ProviderError("slack: a channel id needs a bot token, and none is configured", retryable=False)
        if message.alert is None:  # words of their own (a verification code, a bundle): no buttons
            channel, ts = await self.web.post(message.address, text(message))
        else:
            alert = message.alert
            view = PageView(alert.incident_id, alert.service, alert.summary, alert.urgency, link=message.link)
            channel, ts = await self.web.post(message.address, slack_text(view), slack_blocks(view))
        return Receipt(provider_message_id=message_id(channel, ts))

    async def check(self) -> str:
        """With a bot token, whose bot it is; without one there is nothing to ask (incoming
        webhooks are addresses of their own)."""
        if self.web is None:
            return "no bot token: pages go to incoming-webhook addresses only"
        return await self.web.whoami()

    async def close(self) -> None:
        await self._client.aclose()
        if self.web is not None:
            await self.web.close()


def from_settings(config: SlackSettings) -> SlackProvider:
    """Always configured: incoming-webhook addresses need no settings."""
    return SlackProvider(config)
