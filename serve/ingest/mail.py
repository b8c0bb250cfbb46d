"""E-mail to alert: what one message to an "email" integration's address becomes.

The subject is the summary; the text (or the HTML, stripped of its tags) is kept as details;
the sender is the source. A subject matching the integration's resolve pattern ("RESOLVED:
disk full on db1") resolves the incident its plain subject ("disk full on db1") opened: the
dedup key is a hash of the subject without reply or forward prefixes and resolve words, or
what the integration's `dedup_key_pattern` finds in it. Pure: the SMTP listener
(serve/ingest/email_listener.py) receives the message and submits the event.

Every step is linear in the message, whatever its shape: a header is read from its first
HEADER_MAX characters (the standard library's header parser is quadratic in a header's
length), reply prefixes are stripped in one pass, HTML is reduced to text in one pass, and
the integration's own patterns run with a time limit (PATTERN_TIMEOUT_S) since any
backtracking pattern can be made to take exponential time.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import getaddresses
from html import unescape
from typing import Any

import orjson
import regex
from pydantic import Field, field_validator

from tocsin.actors.domain.events import Action, AlertEvent, event_ids
from tocsin.actors.domain.storable import storable
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.ingest.common import IntegrationConfig
from tocsin.serve.ingest.generic import DEDUP_KEY_MAX, SOURCE_MAX, SUMMARY_MAX, stable_key

DEFAULT_RESOLVE_PATTERN = r"^\s*(?:\[\s*(?:resolved|ok|recovered)\s*\]|(?:resolved|ok|recovered)\b)\s*[:\-]?\s*"
NO_SUBJECT = "(no subject)"
DETAILS_TEXT_MAX = 64 * 1024
HEADER_MAX = 4096
"""Characters of a header that are read; the summary keeps 1024 of the subject anyway."""
PATTERN_TIMEOUT_S = 0.05

log = logging.getLogger(__name__)

# "Re:", "Fwd:", "FW:", and their German, Nordic and French cousins, also numbered ("Re[2]:").
_REPLY_PREFIX = re.compile(r"\s*(?:re|fwd?|aw|wg|sv|vs|tr|antw)\s*(?:\[\d+\]\s*)?:\s*", re.IGNORECASE)


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


def without_replies(subject: str) -> str:
    """The subject without "Re:", "Fwd:" and the like, however many: one pass from the left."""
    at = 0
    while (prefix := _REPLY_PREFIX.match(subject, at)) is not None:
        at = prefix.end()
    return subject[at:].strip()


def is_resolve(subject: str, config: EmailConfig) -> bool:
    return _search(config.resolve_subject_pattern, without_replies(subject)) is not None


def plain_subject(subject: str, config: EmailConfig) -> str:
    """The subject as the incident knows it: no reply prefixes, no resolve words."""
    subject = without_replies(subject)
    resolve = _search(config.resolve_subject_pattern, subject)
    return without_replies(subject[:resolve.start()] + subject[resolve.end():] if resolve else subject)


def dedup_key_of(subject: str, config: EmailConfig) -> str:
    """The pattern's first group when it is found in the subject, else a hash of the plain subject."""
    if config.dedup_key_pattern is not None:
        found = _search(config.dedup_key_pattern, subject)
        if found is not None and found.group(1):
            return str(found.group(1))[:DEDUP_KEY_MAX]
    return stable_key(plain_subject(subject, config))


def parse_message(raw: bytes) -> EmailMessage:
    """The message, its headers read as BOUNDED reads them."""
    message: EmailMessage = message_from_bytes(raw, _class=EmailMessage, policy=BOUNDED)  # type: ignore[arg-type]
    return message


def body_text(message: EmailMessage) -> str:
    """The text/plain part, else the HTML part without its tags; "" when there is neither."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decoded(part)
    return strip_html(text) if part.get_content_subtype() == "html" else text.strip()


def reply_text(message: EmailMessage) -> str:
    """What a person wrote in a reply, as text: the text/plain part as it is (its quoted lines
    still marked "> "), else the HTML part up to its first <blockquote> (what follows is the
    quoted page, or under it), without its tags."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_subtype() != "html":
        return text
    quoted = _BLOCKQUOTE.search(text)
    return strip_html(text[:quoted.start()] if quoted else text)


def strip_html(html: str) -> str:
    """The text a reader sees: tags, comments, scripts and styles gone, entities decoded,
    blocks on lines. One pass: each search starts where the last one ended, and a search
    that finds nothing ends the scan (so unclosed tags cannot make it quadratic)."""
    chunks: list[str] = []
    at = 0
    while at < len(html):
        opening = html.find("<", at)
        if opening < 0:
            chunks.append(unescape(html[at:]))
            break
        chunks.append(unescape(html[at:opening]))
        at = _after_markup(html, opening, chunks)
    lines = (" ".join(line.split()) for line in "".join(chunks).splitlines())
    return "\n".join(line for line in lines if line)


def _after_markup(html: str, opening: int, chunks: list[str]) -> int:
    """Where the text after the markup at `opening` starts; adds a line break or a space
    for what separates blocks or cells."""
    if html.startswith("<!--", opening):
        comment_end = html.find("-->", opening + 4)
        return len(html) if comment_end < 0 else comment_end + 3
    tag = _TAG.match(html, opening)
    if tag is None:  # "a < b": a "<" that starts no tag is text
        chunks.append("<")
        return opening + 1
    ending, name = tag.group(1), (tag.group(2) or "").lower()
    if name in _HIDDEN and not ending:  # skip to its end tag, whatever is inside
        end_tag = _HIDDEN_END[name].search(html, tag.end())
        return len(html) if end_tag is None else _past_tag(html, end_tag.end())
    chunks.append("\n" if name in _BLOCKS else " " if name in _CELLS and not ending else "")
    return _past_tag(html, tag.end())


def _past_tag(html: str, inside: int) -> int:
    """Just after the ">" closing the tag that `inside` is in; with none, the end of the text
    (no later "<" has a ">" after it either)."""
    closing = html.find(">", inside)
    return len(html) if closing < 0 else closing + 1


def alert_of(message: EmailMessage, integration: IntegrationKey, received_at: datetime,
             envelope_from: str | None = None) -> AlertEvent:
    """The alert one message makes for one integration it was sent to."""
    config = EmailConfig.model_validate(integration.config)
    subject = " ".join(str(message.get("subject", "")).split())
    # The envelope's sender may carry surrogates (8-bit bytes decoded with "surrogateescape").
    sender = _sender(message) or (envelope_from and storable(envelope_from)) or None
    return AlertEvent(
        event_id=event_ids(1)[0],
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
    except (LookupError, ValueError):  # ValueError: a charset name holding NUL
        return raw.decode("utf-8", errors="replace")


def _sender(message: EmailMessage) -> str | None:
    addresses = [address for _, address in getaddresses([str(message.get("from", ""))]) if address]
    return addresses[0] if addresses else None


def _compiled(pattern: str) -> Any:
    try:
        return regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


def _search(pattern: str, subject: str) -> Any:
    """The integration's pattern searched for in the subject, or None; also None, with a
    warning, when it takes longer than PATTERN_TIMEOUT_S."""
    try:
        return _compiled(pattern).search(subject, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        log.warning("the e-mail pattern %r took longer than %s s on a subject of %d characters; taken as not found",
                    pattern, PATTERN_TIMEOUT_S, len(subject))
        return None


class _BoundedHeaders(EmailPolicy):
    """The standard policy, reading only the first HEADER_MAX characters of each header."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, str) and len(value) > HEADER_MAX:
            value = value[:HEADER_MAX]
        return super().header_fetch_parse(name, value)


BOUNDED = _BoundedHeaders()

_TAG = re.compile(r"<(/?)([a-z][a-z0-9]*)|<[!?/]", re.IGNORECASE)
_HIDDEN = frozenset({"script", "style", "head", "title"})
_HIDDEN_END = {name: re.compile(rf"</{name}\b", re.IGNORECASE) for name in _HIDDEN}
_BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre"})
_CELLS = frozenset({"td", "th"})
_BLOCKQUOTE = re.compile(r"<blockquote\b", re.IGNORECASE)
