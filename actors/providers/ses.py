"""Amazon SES: e-mail from `ses_from`, a plain-text body, and a Reply-To when the message has one."""

from __future__ import annotations

from tocsin.actors.providers import awsclient
from tocsin.actors.providers.base import Outgoing, Receipt
from tocsin.actors.providers.emailaddress import check_address
from tocsin.actors.providers.settings import SesSettings


class SesProvider:
    name = "ses"
    channels = frozenset({"email"})

    def __init__(self, config: SesSettings, sender: str) -> None:
        self._sender = sender
        self._client = awsclient.make_client("ses", config.aws, config.endpoint_url, config.timeout_s)

    async def send(self, message: Outgoing) -> Receipt:
        check_address(self.name, message.address)
        reply_to = {"ReplyToAddresses": [message.reply_to]} if message.reply_to is not None else {}
        answer = await awsclient.call(
            self.name,
            self._client.send_email,
            Source=self._sender,
            Destination={"ToAddresses": [message.address]},
            Message={
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
            },
            **reply_to,
        )
        return Receipt(provider_message_id=answer.get("MessageId"))

    async def check(self) -> str:
        """The account's sending quota: asking for it sends nothing."""
        quota = await awsclient.call(self.name, self._client.get_send_quota)
        return (f"sending quota {quota.get('Max24HourSend', 0):g} a day, {quota.get('SentLast24Hours', 0):g}"
                f" sent in the last 24 hours, from {self._sender}")

    async def close(self) -> None:
        self._client.close()


def from_settings(config: SesSettings) -> SesProvider | None:
    return SesProvider(config, config.sender) if config.sender else None
