"""Replies to page e-mails: "ack", "resolve" or "escalate" sent to a page's Reply-To
(reply+<token>@<email domain>, actors/domain/email_replies.py) acts on its incident as the person
the page went to, through the incident's shard, logged as "email:<name>".

The token in the address is the credential: it names one notification, is stored only hashed,
and acts once. The sender (From, envelope) is not trusted for anything; one that is not the
page's address is logged, since a reply may come from another of the person's mailboxes.

Every refusal is an SMTP refusal at the end of DATA, 550 with a sentence saying why (the
sending server turns it into a bounce to the person, so Tocsin sends no mail of its own):
- an address with no such token, or with one used already;
- an incident that is resolved or gone, or a page older than a day (`push_actions.refusal`);
- a reply whose first line (or, with no text, subject) is no command: the bounce says how to reply;
- an automatic reply (Auto-Submitted) or a bounce (null sender): never acted on;
- a command the incident refuses (escalating with no policy): the shard's reason.
A token whose reply did nothing can be used again. 451 when the command could not be recorded
(the sending server tries again); 250 naming what was done otherwise.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain import email_replies, push_actions, replies
from tocsin.actors.domain.audit import Actor
from tocsin.actors.domain.clock import Clock
from tocsin.actors.domain.events import Command, IncidentCommand
from tocsin.actors.shard_router import ShardRouter
from tocsin.actors.store import email_replies as store
from tocsin.actors.store.database import UNAVAILABLE, Database
from tocsin.serve.auditing import Declared, append
from tocsin.serve.ingest.mail import parse_message, reply_text

log = logging.getLogger(__name__)

_COMMANDS = uuid.UUID("0b6f7c52-1f1e-4d5e-9b8c-5a1f3e2d4c61")  # command ids of e-mail replies, by token and command

UNKNOWN = "550 5.1.1 This reply address is not known to Tocsin: it is mistyped, or its page is long gone"
USED = ("550 5.7.1 This reply address was used already: a page e-mail acts once; reply to a newer page"
        " or act in Tocsin")
AUTOMATIC = "550 5.7.1 Automatic replies and delivery reports are not acted on"
UNREADABLE = "550 5.6.0 The reply could not be read"
NOT_NOW = "451 4.3.0 Tocsin cannot act on replies just now; try again later"


def smtp_reply(status: str, text: str) -> str:
    """One SMTP reply line: ASCII, no line breaks, not overlong."""
    line = " ".join(text.split())[:400]
    return f"{status} {line.encode('ascii', 'replace').decode()}"


class ReplyDesk:
    """Answers one reply message sent to a reply address, acting on its incident when it may."""

    def __init__(self, database: Database, shards: ShardRouter, clock: Clock) -> None:
        self._database = database
        self._shards = shards
        self._clock = clock

    async def answer(self, token: str, raw: bytes, envelope_from: str | None) -> str:
        """The SMTP answer to the reply `raw` sent to the address of `token`."""
        try:
            message = parse_message(raw)
            command = email_replies.command_of(reply_text(message), _subject(message))
        except Exception as exc:  # noqa: BLE001 - whatever the parser trips on, the message is at fault
            log.warning("an e-mail reply could not be read: %r", exc)
            return UNREADABLE
        if _automatic(message, envelope_from):
            return AUTOMATIC
        hashed = email_replies.token_hash(token)
        now = self._clock.now()
        try:
            async with self._database.connection() as conn:
                target = await store.target(conn, hashed)
                if target is None:
                    return UNKNOWN
                refusal = _refusal(target, now)
                if refusal is not None:
                    return refusal
                if command is None:
                    return smtp_reply("550 5.6.0", f"{email_replies.HELP} (incident {target.incident_id}).")
                _check_sender(target, message, envelope_from)
                if not await store.claim(conn, hashed, now):
                    return USED
            return await self._act(target, hashed, command)
        except UNAVAILABLE as exc:
            log.warning("cannot act on an e-mail reply now: %r", exc)
            return NOT_NOW

    async def _act(self, target: store.ReplyTarget, hashed: str, command: Command) -> str:
        submitted = IncidentCommand(
            command_id=str(uuid.uuid5(_COMMANDS, f"{hashed}:{command.value}")), service_id=target.service_id,
            incident_id=target.incident_id, action=command, actor=f"email:{target.user_name}",
            received_at=self._clock.now())
        try:
            reply = await self._shards.submit(submitted)
        except BatchFailed as exc:
            log.warning("an e-mail reply's command was not recorded (%s); the sender will retry", exc)
            await self._release(hashed)
            return NOT_NOW
        said = replies.outcome_text(command, target.incident_id, reply.outcome, reply.status, reply.note)
        if email_replies.outcome_refusal(reply.outcome):
            await self._release(hashed)  # it did nothing: the same address may still act
            return smtp_reply("550 5.7.0", said)
        await self._audit(target, command)
        return smtp_reply("250 2.0.0", said)

    async def _audit(self, target: store.ReplyTarget, command: Command) -> None:
        """The audit log's entry for the reply's action, as the person paged (no client address:
        the reply came by mail). The action stands if the entry cannot be written."""
        entry = Declared(Actor(target.user_id, target.user_name, "email"), "incident", (str(target.incident_id),),
                         command.value)
        try:
            async with self._database.connection() as conn:
                await append(conn, entry, None, self._clock.now())
        except UNAVAILABLE as exc:
            log.error("an e-mail reply acted on incident %s but its audit entry is lost: %r", target.incident_id, exc)

    async def _release(self, hashed: str) -> None:
        async with self._database.connection() as conn:
            await store.release(conn, hashed)


def _refusal(target: store.ReplyTarget, now: datetime) -> str | None:
    """Why this reply address may not act (any more), as the SMTP answer; None when it may."""
    if target.used_at is not None:
        return USED
    why = push_actions.refusal(target.incident_status, target.issued_at, now)
    if why is not None:
        return smtp_reply("550 5.7.1", f"Incident {target.incident_id} cannot be acted on by this reply: {why}.")
    return None


def _subject(message: EmailMessage) -> str:
    return " ".join(str(message.get("subject", "")).split())


def _automatic(message: EmailMessage, envelope_from: str | None) -> bool:
    """An auto-reply (RFC 3834) or a delivery report (null sender): no person typed it."""
    auto = str(message.get("auto-submitted", "no")).strip().lower()
    return not auto.startswith("no") or envelope_from in (None, "", "<>")


def _check_sender(target: store.ReplyTarget, message: EmailMessage, envelope_from: str | None) -> None:
    """Logs a reply from an address other than the page's; the token decides, not the sender."""
    senders = {address.lower() for _, address in getaddresses([str(message.get("from", ""))]) if address}
    if envelope_from:
        senders.add(envelope_from.lower())
    if target.address is None or target.address.lower() not in senders:
        log.warning("a reply to notification %s (incident %s, %s) came from %s, not the page's address",
                    target.notification_id, target.incident_id, target.user_name, sorted(senders) or "no sender")
