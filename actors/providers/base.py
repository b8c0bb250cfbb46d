"""What every provider is to a ChannelActor: something that sends one message and says
whether it took it.

A provider raises `ProviderError` when it did not take the message: `retryable` says
whether trying again (later, or through another provider) may help. A timeout is a
`ProviderError` too. Nothing here logs credentials: providers keep them in `SecretStr`
settings and never put them in an error message.

A message whose try's outcome is unknown (its sender died between the provider's answer and
writing it down) is sent again, unless a provider that can be asked (`Traceable`) says it
took it then. Through a provider that cannot be asked, such a message may reach its person
twice: at least once, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from tocsin.actors.domain.messages import SUBJECT_LIMIT, Alert
from tocsin.actors.domain.plaintext import body, one_line


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one contact method.

    `subject` is the short form (e-mail subject, push title, first line of an SMS); `text`
    the whole message. `reply_code` is the number this person answers with ("3a"), when
    the channel can be answered. `callback_url` is where the provider reports back
    (delivery status, voice keypad), when Tocsin is reachable from it. `link` is Tocsin's
    own page for the incident, for a channel that shows it as a link apart from the text.
    `urgency` is the page's ("high", "low"), for a channel that delivers by it. `push_keys`
    are a browser push subscription's (p256dh, auth), for webpush: what it is encrypted to.
    `alert` is what a page is about, for a channel that lays it out itself (Slack's blocks,
    Teams' card); None for a message of its own words. `reply_to` is the address a reply to
    a page e-mail acts through (actors/domain/email_replies.py), when Tocsin takes replies.

    Whatever composed it, a provider gets a subject that is one line (no header can be
    injected through it) and a text without control characters (`plaintext`)."""

    notification_id: int
    channel: str
    address: str
    subject: str
    text: str
    incident_id: int | None = None
    reply_code: int | None = None
    callback_url: str | None = None
    link: str | None = None
    urgency: str | None = None
    push_keys: tuple[str, str] | None = None
    alert: Alert | None = None
    reply_to: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", one_line(self.subject, SUBJECT_LIMIT))
        object.__setattr__(self, "text", body(self.text))


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_message_id: str | None = None


class ProviderError(Exception):
    """The provider did not take the message. The message must not contain secrets."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class AddressGone(ProviderError):
    """The provider says the address no longer exists (a push subscription the browser dropped:
    HTTP 404 or 410). No provider can reach it again: the contact method is removed, and the
    person's next notification of the incident goes out at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class TimedOut(ProviderError):
    """No answer in time: the message may or may not have been taken (retryable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class Provider(Protocol):
    name: str  # e.g. "twilio", "sns": how attempts and the channel view name it
    channels: frozenset[str]  # the channel kinds it can carry

    async def send(self, message: Outgoing) -> Receipt: ...

    async def close(self) -> None: ...


@runtime_checkable
class Traceable(Protocol):
    """A provider that can be asked what it took."""

    name: str

    async def sent_since(self, message: Outgoing, since: datetime) -> list[str]:
        """The ids of the messages it took from Tocsin to `message.address` since `since`
        that carry this message (the same words; for a call, any call), oldest first.
        Raises `ProviderError` when it cannot say."""
        ...


@runtime_checkable
class Checkable(Protocol):
    """A provider that can be asked, without sending anything to anyone, whether it takes
    Tocsin's credentials (`tocsin doctor` asks)."""

    name: str

    async def check(self) -> str:
        """What the provider said of the account it was asked about (its name, its state, a
        quota). Raises `ProviderError` when it refuses the credentials or cannot be reached."""
        ...
