"""E-mail to alert: what one message to an "email" integration's address becomes.

The subject is the summary; the text (or the HTML, stripped of its tags) is kept as details;
the sender is the source. A subject matching the integration's resolve pattern ("RESOLVED:
disk full on db1") resolves the incident its plain subject ("disk full on db1") opened: the
dedup key is a hash of the subject without reply or forward prefixes and resolve words, or
what the integration's `dedup_key_pattern` finds in it. Pure: the SMTP listener
(actors/email_listener.py) receives the message and submits the event.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser

import orjson
from pydantic import Field, field_validator

from actors.domain.events import Action, AlertEvent
from actors.domain.storable import storable
from actors.store.services import IntegrationKey
from serve.ingest.common import CONFIG_MODELS, IntegrationConfig
from serve.ingest.generic import DEDUP_KEY_MAX, SOURCE_MAX, SUMMARY_MAX, stable_key

DEFAULT_RESOLVE_PATTERN = r"^\s*(?:\[\s*(?:resolved|ok|recovered)\s*\]|(?:resolved|ok|recovered)\b)\s*[:\-]?\s*"
NO_SUBJECT = "(no subject)"
DETAILS_TEXT_MAX = 64 * 1024

# "Re:", "Fwd:", "FW:", and their German, Nordic and French cousins, also numbered ("Re[2]:").
_REPLY_PREFIX = re.compile(r"^\s*(?:re|fwd?|aw|wg|sv|vs|tr|antw)\s*(?:\[\d+\])?\s*:\s*", re.IGNORECASE)


class EmailConfig(IntegrationConfig):
    """How an e-mail integration reads subjects."""

    resolve_subject_pattern: str = Field(
        DEFAULT_RESOLVE_PATTERN, description="a subject matching this (case-insensitive) resolves its incident")
    dedup_key_pattern: str | None = Field(
        None, description="its first group, found in the subject, is the dedup key, e.g. \\[(INC-\\d+)\\]")

    @field_validator("resolve_subject_pattern")
    @classmethod
    def _resolve_pattern(cls, pattern: str) -> str:
        if _compiled(pattern).fullmatch(""):
            raise ValueError("the pattern matches an empty subject, so it would resolve every message")
        return pattern

    @field_validator("dedup_key_pattern")
    @classmethod
    def _dedup_pattern(cls, pattern: str | None) -> str | None:
        if pattern is not None and _compiled(pattern).groups < 1:
            raise ValueError("the pattern needs a group, e.g. \\[(INC-\\d+)\\]: the group is the dedup key")
        return pattern


CONFIG_MODELS["email"] = EmailConfig


def without_replies(subject: str) -> str:
    """The subject without "Re:", "Fwd:" and the like, however many."""
    while (shorter := _REPLY_PREFIX.sub("", subject, count=1)) != subject:
        subject = shorter
    return subject.strip()


def is_resolve(subject: str, config: EmailConfig) -> bool:
    return _compiled(config.resolve_subject_pattern).search(without_replies(subject)) is not None


def plain_subject(subject: str, config: EmailConfig) -> str:
    """The subject as the incident knows it: no reply prefixes, no resolve words."""
    return without_replies(_compiled(config.resolve_subject_pattern).sub("", without_replies(subject), count=1))


def dedup_key_of(subject: str, config: EmailConfig) -> str:
    """The pattern's first group when it is found in the subject, else a hash of the plain subject."""
    if config.dedup_key_pattern is not None:
        found = _compiled(config.dedup_key_pattern).search(subject)
        if found is not None and found.group(1):
            return found.group(1)[:DEDUP_KEY_MAX]
    return stable_key(plain_subject(subject, config))


def body_text(message: EmailMessage) -> str:
    """The text/plain part, else the HTML part without its tags; "" when there is neither."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decoded(part)
    return strip_html(text) if part.get_content_subtype() == "html" else text.strip()


def strip_html(html: str) -> str:
    """The text a reader sees: tags, scripts and styles gone, entities decoded, blocks on lines."""
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return "\n".join(line for line in lines if line)


def alert_of(message: EmailMessage, integration: IntegrationKey, received_at: datetime,
             envelope_from: str | None = None) -> AlertEvent:
    """The alert one message makes for one integration it was sent to."""
    config = EmailConfig.model_validate(integration.config)
    subject = " ".join(str(message.get("subject", "")).split())
    # The envelope's sender may carry surrogates (8-bit bytes decoded with "surrogateescape").
    sender = _sender(message) or (envelope_from and storable(envelope_from)) or None
    return AlertEvent(
        event_id=str(uuid.uuid4()),
        service_id=integration.service_id,
        integration_id=integration.integration_id,
        dedup_key=dedup_key_of(subject, config),
        action=Action.RESOLVE if is_resolve(subject, config) else Action.TRIGGER,
        received_at=received_at,
        summary=(subject or NO_SUBJECT)[:SUMMARY_MAX],
        source=sender[:SOURCE_MAX] if sender else None,
        payload=orjson.dumps(_details(message, subject, sender)).decode(),
    )


def _details(message: EmailMessage, subject: str, sender: str | None) -> dict[str, str | None]:
    return {"subject": subject, "from": sender, "to": str(message.get("to", "")) or None,
            "date": str(message.get("date", "")) or None, "message_id": str(message.get("message-id", "")) or None,
            "body": body_text(message)[:DETAILS_TEXT_MAX]}


def _decoded(part: Message) -> str:
    """The part's text; a missing or unknown charset does not lose the message."""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    try:
        return raw.decode(str(part.get_content_charset("utf-8")), errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _sender(message: EmailMessage) -> str | None:
    addresses = [address for _, address in getaddresses([str(message.get("from", ""))]) if address]
    return addresses[0] if addresses else None


def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


class _TextOnly(HTMLParser):
    _HIDDEN = frozenset({"script", "style", "head", "title"})
    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre"})
    _CELLS = frozenset({"td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.chunks.append("\n")
        elif tag in self._CELLS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)
