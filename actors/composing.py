"""What a claimed row says, and whether it can go anywhere at all.

- `undeliverable`: a row whose contact method is gone or switched off (STOP), or a page of
  an incident no longer triggered, goes nowhere: it is cancelled with that reason.
- Reply codes: messages on the channels people answer on (SMS, voice) carry the number the
  person knows the incident by ("3a" acknowledges incident 3). The codes of a whole claim are
  given out at once, in one statement, before any of its rows is sent (`reply_codes`); a
  contact method keeps an incident's code, and new ones follow its highest, in claim order.
- Reply addresses: a page e-mail, when Tocsin takes e-mail (its SMTP listener is on), has a
  Reply-To of its own (actors/domain/email_replies.py); the tokens of a claim's page e-mails
  are given out and stored at once with the reply codes (`answers`).
- `compose`: pure once the codes and reply addresses are known. A verification code goes in its own words; a
  bundle is one line standing for the pages a throttle held back; a page or a reminder is the
  alert in the channel's words (actors/domain/messages.py), with a link to the incident.
  A row that cannot be composed raises, and is dead with why: it never will be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.domain import email_replies, messages
from tocsin.actors.holdings import Row
from tocsin.actors.providers.base import Outgoing
from tocsin.actors.store import email_replies as reply_tokens
from tocsin.actors.store.replies import Recipient, reply_codes_for
from tocsin.actors.throttling import Send

ANSWERABLE = ("sms", "voice")  # channels people reply on, so their messages carry a reply code
LINKED_APART = ("slack", "teams")  # channels that show the incident's link as a link of their own

Where = dict[str, Any]  # where a row goes and what its incident is, as `outbox.context` gives it
ReplyCodes = Mapping[Recipient, int | None]  # None: the contact method or the incident is gone


@dataclass(frozen=True, slots=True)
class Answers:
    """How the people a claim's messages go to can answer them."""

    codes: ReplyCodes = field(default_factory=dict)  # SMS and voice
    reply_to: Mapping[int, str] = field(default_factory=dict)  # e-mail: by notification id


def undeliverable(row: Row, where: Where) -> str | None:
    """Why a row cannot go anywhere (it is cancelled with that reason), or None."""
    if where["address"] is None:
        return "the contact method no longer exists"
    if not where["enabled"]:
        return "the contact method is switched off (STOP)"
    if row["kind"] == "page" and where["incident_status"] not in (None, "triggered"):
        return f"the incident is {where['incident_status']}"
    return None


class Composer:
    def __init__(self, channel: str, reachable_url: str, reply_domain: str | None = None) -> None:
        """`reply_domain`: where replies to page e-mails go (Tocsin's own SMTP listener's domain);
        None when Tocsin takes no e-mail, so page e-mails have no Reply-To of their own."""
        self.channel = channel
        self._reachable_url = reachable_url
        self._reply_domain = reply_domain

    async def answers(self, conn: asyncpg.Connection, sends: Iterable[Send], now: datetime) -> Answers:
        """The reply codes and reply addresses the messages of these sends carry, given out in one go."""
        sends = list(sends)
        wanted = [_recipient(send.row) for send in sends if self._carries_code(send)]
        codes = await reply_codes_for(conn, wanted) if wanted else {}
        reply_to: dict[int, str] = {}
        answerable = [send.row["id"] for send in sends if self._carries_reply_to(send)]
        if self._reply_domain is not None and answerable:
            tokens = await reply_tokens.issue(conn, answerable, now)
            reply_to = {row_id: email_replies.address(token, self._reply_domain) for row_id, token in tokens.items()}
        return Answers(codes, reply_to)

    def compose(self, send: Send, where: Where, answers: Answers) -> Outgoing:
        row = send.row
        service = where["service_name"] or "a deleted service"
        if _plain(row):
            return self._outgoing(row, where, "Tocsin", row["message"])
        if send.bundle:
            text = messages.bundle(len(send.bundle) + 1, service)
            return self._outgoing(row, where, text, text)
        code = self._code(row, answers.codes) if self._carries_code(send) else None
        alert = messages.Alert(row["incident_id"], service, where["summary"] or row["message"], row["urgency"], code)
        link = incident_link(self._reachable_url, row["incident_id"])
        reply_to = answers.reply_to.get(row["id"])
        words = self._words(alert, link) + (f"\n\n{email_replies.HOW_TO_REPLY}" if reply_to else "")
        return self._outgoing(row, where, messages.subject(alert), words,
                              incident_id=row["incident_id"], reply_code=code, link=link,
                              callback_url=f"{self._reachable_url}/webhooks/twilio", alert=alert, reply_to=reply_to)

    def _outgoing(self, row: Row, where: Where, subject: str, text: str, **about: Any) -> Outgoing:
        """The message to the row's contact method, with what a channel may deliver by: the
        page's urgency, a push subscription's keys."""
        keys = (where["push_p256dh"], where["push_auth"]) if where.get("push_p256dh") and where.get("push_auth") \
            else None
        return Outgoing(row["id"], self.channel, where["address"], subject, text, urgency=row.get("urgency"),
                        push_keys=keys, **about)

    def _carries_code(self, send: Send) -> bool:
        return self.channel in ANSWERABLE and not send.bundle and not _plain(send.row)

    def _carries_reply_to(self, send: Send) -> bool:
        return self.channel == "email" and not send.bundle and not _plain(send.row)

    @staticmethod
    def _code(row: Row, codes: ReplyCodes) -> int:
        code = codes.get(_recipient(row))
        if code is None:
            raise LookupError(f"no reply code: contact method {row['contact_method_id']} or incident"
                              f" {row['incident_id']} no longer exists")
        return code

    def _words(self, alert: messages.Alert, link: str) -> str:
        if self.channel == "sms":
            return messages.sms(alert)
        if self.channel == "voice":
            return messages.voice(alert)
        # Slack and Teams show the link apart from the text, as a link; other channels carry it in the text.
        return messages.long_text(alert, None if self.channel in LINKED_APART else link)


def incident_link(reachable_url: str, incident_id: int) -> str:
    """Tocsin's own page for the incident, as messages link to it."""
    return f"{reachable_url}/api/v1/incidents/{incident_id}"


def _plain(row: Row) -> bool:
    """A message of its own words (a verification code), about no incident."""
    return bool(row["kind"] == "verification" or row["incident_id"] is None)


def _recipient(row: Row) -> Recipient:
    return row["contact_method_id"], row["incident_id"]
