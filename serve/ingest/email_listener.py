"""EmailListener: e-mail to alert. An SMTP server (aiosmtpd) in a detached, named actor.

Each "email" integration has an address of its own, <key>@<email_domain>. The listener is a
source like the gateway, so it reaches the shards the gateway's way (actors/shard_router.py) and
finds keys the gateway's way (actors/routing_keys.py, cached briefly); what a message becomes is
decided by serve/ingest/mail.py.

- EHLO advertises SIZE smtp_max_message_bytes; a message declared (MAIL FROM SIZE=) or
  sent bigger is refused with 552, and what goes past the limit is not kept.
- RCPT: unknown and revoked addresses are refused with 550, over the integration's rate
  limit with 451. A local part that is not a key is refused without a lookup, and each
  client address may try only so many unknown ones (451 past that), as at the gateway
  (actors/routing_keys.py).
- DATA: 250 only once the shards have committed the alerts; 451 (try again later) when
  they could not, so the sending server keeps the message and retries; 554 naming the
  field when the database refused a value of the alert (which U+0000 no longer is: it
  is made storable on the way). A retried message is a new event, as a re-sent alert is
  from any source: one more occurrence, or a resolve of what is already resolved, which is
  dropped. A message that cannot be read as an alert
  is refused for good with 554 (sending it again would not help); anything else going wrong
  on our side answers 451, never a bare 500 with the exception's text.
- Routing rules: each alert goes through its service's rules as at the gateway
  (serve/ingest/ruling.py); a dropped one is accepted (250) and counted.
- Replies to page e-mails, at reply+<token>@<email_domain>, are not alerts: a well-formed
  token is taken at RCPT, alone in its message (452 beside other recipients, so the sender
  sends them apart), and its reply is acted on or refused at DATA by
  serve/ingest/email_replies.py.
- State: none of its own. A restart binds the port again; `stats` may be called any time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import ray
from aiosmtpd.smtp import SMTP, Envelope, Session
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain import email_replies
from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.domain.ratelimit import RateLimiter
from tocsin.actors.lifecycle import detached_options
from tocsin.actors.rule_tally import RuleTally
from tocsin.actors.rulebook import RuleBook
from tocsin.actors.routing_keys import KeyCache, KeyGate, MalformedKey, TooManyUnknownKeys
from tocsin.actors.settings import Settings
from tocsin.actors.shard_router import ShardRouter
from tocsin.actors.store.database import UNAVAILABLE, Database
from tocsin.actors.store.services import ROUTING_KEY_ALPHABET, ROUTING_KEY_LENGTH, IntegrationKey, find_key
from tocsin.serve.forwarded import address_key
from tocsin.serve.ingest.common import not_stored
from tocsin.serve.ingest.email_replies import ReplyDesk
from tocsin.serve.ingest.ruling import Ruling, RulesUnavailable, submit_ruled
from tocsin.serve.ingest.mail import alert_of, parse_message

log = logging.getLogger(__name__)

LISTENER_NAME = "tocsin-email-listener"


class EmailListener:
    def __init__(
        self, settings: Settings, database_url: str, clock: Clock | None = None,
        shards: ShardRouter | None = None, find: Callable[[str], Awaitable[IntegrationKey | None]] | None = None,
        ruling: Ruling | None = None,
    ) -> None:
        """Starts listening at once; must be made inside a running event loop. `shards`, `find`
        and `ruling` stand in for the shards, the key lookup and the rules in tests."""
        self._settings = settings
        self._database = Database(database_url, max_size=4, command_timeout=10)
        self._clock = clock or SystemClock()
        self._keys = KeyGate.for_settings(KeyCache(find or self._find_key, settings.key_cache_ttl_s), settings)
        self._limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        self._shards = shards or ShardRouter.for_settings(settings)
        # Service rules act on e-mail as on every source (serve/ingest/ruling.py).
        if ruling is None:
            ruling = Ruling(RuleBook(self._database), RuleTally(self._database))
            ruling.start()
        self._ruling = ruling
        self._replies = ReplyDesk(self._database, self._shards, self._clock)
        self._counts: dict[str, int] = defaultdict(int)
        self._listening: asyncio.Future[asyncio.Server] = asyncio.ensure_future(self._listen())

    # -- what others call -------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        """Where it listens and what it took; raises when the port could not be bound."""
        await asyncio.shield(self._listening)
        return {"host": self._settings.host, "port": self._settings.smtp_listen_port, "pid": os.getpid(),
                "domain": self._settings.email_domain, **self._counts}

    async def close(self) -> None:
        if self._listening.done() and not self._listening.exception():
            server = self._listening.result()
            server.close()
            await server.wait_closed()
        try:
            await self._ruling.stop()  # the last match counts
        except UNAVAILABLE as exc:
            log.warning("the routing rules' last match counts are lost: %r", exc)
        await self._database.close()

    # -- SMTP: aiosmtpd calls these by name -------------------------------------------------

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if email_replies.is_reply_address(address.rpartition("@")[0]) or _reply_token(envelope) is not None:
            answer = self._reply_recipient(address, envelope)
            if answer.startswith("250"):
                envelope.rcpt_tos.append(address)
            else:
                self._counts["recipients_refused"] += 1
            return answer
        found = await self._recipient(address, session)
        if isinstance(found, str):
            self._counts["recipients_refused"] += 1
            return found
        options = found.config
        if self._limiter.take(found.integration_id, options.get("rate_limit_per_s"),
                              options.get("rate_limit_burst")) is not None:
            return "451 4.7.1 Rate limit reached for this integration; try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        token = _reply_token(envelope)
        if token is not None:
            answer = await self._replies.answer(token, envelope.original_content or b"", envelope.mail_from or None)
            self._counts["replies_acted" if answer.startswith("250") else "replies_refused"] += 1
            return answer
        found = [await self._recipient(address, session) for address in envelope.rcpt_tos]
        integrations = {i.integration_id: i for i in found if isinstance(i, IntegrationKey)}
        if not integrations:
            return "554 5.5.1 No valid recipients"
        try:
            message = parse_message(envelope.original_content or b"")
            sender = envelope.mail_from or None
            now = self._clock.now()
            events = [(alert_of(message, i, now, sender), i) for i in integrations.values()]
        except Exception as exc:  # noqa: BLE001 - whatever the parser trips on, the message is at fault
            log.warning("an e-mail could not be read as an alert: %r", exc)
            self._counts["messages_unreadable"] += 1
            return "554 5.6.0 The message could not be read as an alert"
        try:
            ruled = [item for event, integration in events for item in await self._ruling.ruled([event], integration, now)]
            refused = not_stored(await submit_ruled(self._shards, ruled))
        except RulesUnavailable as exc:
            log.warning("e-mail alert not taken: %s; the sender will retry", exc)
            self._counts["messages_deferred"] += 1
            return "451 4.3.0 The routing rules cannot be read now; try again later"
        except BatchFailed as exc:
            log.warning("e-mail alert not made durable (%s); the sender will retry", exc)
            self._counts["messages_deferred"] += 1
            return "451 4.3.0 The alert could not be made durable; try again later"
        if refused is not None:  # permanent: the same message would be refused again
            self._counts["messages_refused"] += 1
            line = " ".join(refused.message.split())[:400]  # one line of ASCII, as an SMTP reply is
            return "554 5.6.0 " + line.encode("ascii", "replace").decode()
        self._counts["messages_accepted"] += 1
        return f"250 2.0.0 Accepted: {len(events)} alert(s)"

    async def handle_exception(self, error: Exception) -> str:
        """What aiosmtpd answers when a command fails unexpectedly: a transient 451, so the
        sender keeps the message, instead of its 500 quoting the exception."""
        log.error("e-mail listener: a command failed", exc_info=error)
        self._counts["commands_failed"] += 1
        return "451 4.3.0 Local error in processing; try again later"

    # -- inside -----------------------------------------------------------------------------

    def _reply_recipient(self, address: str, envelope: Envelope) -> str:
        """The SMTP answer to a reply address as a recipient (or any beside one): its token is
        only checked for its form here, and alone in its message."""
        local, _, domain = address.rpartition("@")
        if domain.lower() != self._settings.email_domain.lower():
            return self._not_ours(address)
        if envelope.rcpt_tos:
            return "452 4.5.3 Too many recipients: a reply to Tocsin goes to its reply address alone"
        if email_replies.token_of(local) is None:
            return (f"550 5.1.1 <{address}>: not a reply address of Tocsin; reply to a page e-mail as it"
                    " came, to its Reply-To address")
        return "250 2.1.5 Recipient OK"

    def _not_ours(self, address: str) -> str:
        return f"550 5.7.1 <{address}>: relaying denied; only {self._settings.email_domain} is handled here"

    async def _recipient(self, address: str, session: Session) -> IntegrationKey | str:
        """The live e-mail integration at this address, or the SMTP answer refusing it."""
        local, _, domain = address.rpartition("@")
        if domain.lower() != self._settings.email_domain.lower():
            return self._not_ours(address)

        async def client() -> str:
            peer = session.peer
            return address_key(peer[0] if isinstance(peer, tuple) else str(peer))

        try:
            integration = await self._keys.find(local.lower(), client)
        except MalformedKey:
            return (f"550 5.1.1 <{address}>: no such integration address; integration addresses are "
                    f"{ROUTING_KEY_LENGTH} characters of {ROUTING_KEY_ALPHABET} before the @")
        except TooManyUnknownKeys as exc:
            return f"451 4.7.1 Too many unknown recipients from your address; try again in {exc.retry_after_s} s"
        except UNAVAILABLE as exc:
            log.warning("cannot look up an e-mail recipient: %r", exc)
            return "451 4.3.0 Cannot look up the recipient now; try again later"
        if integration is None or integration.type != "email":
            return f"550 5.1.1 <{address}>: no such integration address"
        if integration.revoked:
            return f"550 5.1.1 <{address}>: this integration has been revoked"
        return integration

    async def _listen(self) -> asyncio.Server:
        settings = self._settings
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(self._session, settings.host, settings.smtp_listen_port)
        except OSError:
            log.exception("cannot listen for e-mail on %s:%s", settings.host, settings.smtp_listen_port)
            raise
        log.info("listening for e-mail to *@%s on %s:%s", settings.email_domain, settings.host,
                 settings.smtp_listen_port)
        return server

    def _session(self) -> SMTP:
        return SMTP(self, data_size_limit=self._settings.smtp_max_message_bytes,
                    hostname=self._settings.email_domain, timeout=60)

    async def _find_key(self, key: str) -> IntegrationKey | None:
        async with self._database.connection() as conn:
            return await find_key(conn, key)


def _reply_token(envelope: Envelope) -> str | None:
    """The token of the reply address the message is for, when it is for one."""
    for address in envelope.rcpt_tos:
        token = email_replies.token_of(address.rpartition("@")[0])
        if token is not None:
            return token
    return None


EmailListenerRemote: Any = ray.remote(EmailListener)


def listener_options(namespace: str, node_id: str) -> dict[str, Any]:
    """On the node that runs `tocsin up`, whose address the listener binds: mail is sent
    there. Soft, so that it still comes back if that node is lost and the host is 0.0.0.0."""
    return {**detached_options(LISTENER_NAME, namespace, max_concurrency=1000),
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=True)}
