"""ChannelActor: delivers the outbox rows of one channel kind (sms, voice, push, email,
slack, webhook) through that channel's providers.

- Claims due rows with FOR UPDATE SKIP LOCKED, as a lease: a row left "sending" by a crash
  is claimed again once its lease has run out (at least once, never dropped), or, when the
  crash was this actor's own and Ray has restarted it, at once (with a provider that can be
  asked, once every request the dead process had sent is over: the provider timeout).
  Woken by a nudge (actors/nudger.py), and by a short poll as a fallback.
- While a round is under way (a storm: hundreds of rows at the providers' rates), a nudge
  sends the first notification of each new page at once, ahead of the round: the express
  lane, with slots and provider tokens of its own.
- The outcome of every row it claimed is kept until it is written, and written again while
  the database is away (`settling`); until then the row is this actor's, passed over by its
  claims whatever its lease says (`holdings`): a message a provider took is not sent again
  while the actor that sent it lives.
- Per claim: the throttles decide what goes out now, alone or bundled (`throttling`); rows
  that can go nowhere are cancelled with why; the rest are composed, with the reply codes and
  e-mail reply addresses of the whole claim given out at once (`composing`), and delivered
  through the providers with failover, breakers and rate limits, each try recorded (`delivery`).
- The Slack channel's actor, when the bot can post, also keeps the messages it posted showing
  their incident as it is (`slack_messages`: why there, in its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import asyncpg
import ray

from tocsin.actors import attempt
from tocsin.actors.composing import Answers, Composer, Where, undeliverable
from tocsin.actors.delivery import Delivery
from tocsin.actors.domain.breaker import BreakerRules
from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.domain.retry import RetryRules
from tocsin.actors.domain.throttle import ThrottleRule
from tocsin.actors.holdings import Holdings
from tocsin.actors.in_doubt import InDoubt
from tocsin.actors.lifecycle import detached_options, garbage_collection, tune_garbage_collection
from tocsin.actors.nudger import channel_name
from tocsin.actors.providers import build
from tocsin.actors.providers.base import Provider
from tocsin.actors.settings import Settings
from tocsin.actors.settling import Settler
from tocsin.actors.slack_messages import SlackMessages, web_api_of
from tocsin.actors.bus import BusAddress, open_bus
from tocsin.actors.store import database, outbox
from tocsin.actors.throttling import Send, Throttles
from tocsin.actors.waiting import wait_set

log = logging.getLogger(__name__)

LEASE_S = 120.0  # longer than a round through every provider at its timeout
POLL_S = 1.0
IN_FLIGHT = 32  # rows dispatched at once
EXPRESS_CLAIM = 50  # first notifications of pages claimed at once while a round is under way
DATABASE_ERRORS = database.UNAVAILABLE
TAKE_OVER_MARGIN_S = 2.0  # past the provider timeout, before a dead process's claims are taken over


class ChannelActor:
    def __init__(
        self, channel: str, settings: Settings, database_url: str, clock: Clock | None = None,
        providers: list[Provider] | None = None, retry: RetryRules | None = None,
        breaker: BreakerRules | None = None, background: bool = True,
    ) -> None:
        """`background=False`: no loop of its own; deliveries happen on `run_once` only."""
        self.channel = channel
        self._background = background
        self._settings = settings
        self._clock = clock or SystemClock()
        self._providers = providers if providers is not None else build(settings, settings.providers_for(channel))
        self._stats: dict[str, int] = defaultdict(int)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._express_slots = asyncio.Semaphore(IN_FLIGHT // 4)
        self._round_running = False
        self._express_task: asyncio.Task[None] | None = None
        self._express_again = False
        self._sending_ahead: set[asyncio.Task[None]] = set()  # strong references until done
        self._throttles = Throttles([ThrottleRule(settings.throttle_messages, settings.throttle_window_s)],
                                    self._stats)
        self._composer = Composer(channel, settings.reachable_url,
                                  settings.email_domain if settings.smtp_listen_port is not None else None)
        self._settler = Settler(channel, self._connection, max_items=IN_FLIGHT * 4)
        self._in_doubt = InDoubt(channel, self._providers, self._connection, settings.provider_timeout_s)
        self._delivery = Delivery(channel, settings, self._providers, self._clock, self._in_doubt, self._stats,
                                  retry, breaker)
        self._holdings = Holdings()  # rows claimed here and not yet settled
        self._database = database.Database(database_url, max_size=IN_FLIGHT // 4, close_failed=True)
        self._loop_task: asyncio.Task[None] | None = None
        self._messages = self._slack_messages()
        self._messages_task: asyncio.Task[None] | None = None
        self._orphaned_claims = _restarted_by_ray()
        tune_garbage_collection()
        with contextlib.suppress(RuntimeError):  # no loop yet: started by the first call
            asyncio.get_running_loop()
            self._start()

    # -- what others call -------------------------------------------------------------------

    async def nudge(self) -> None:
        """Something became due: look now rather than at the next poll, and while a round
        is under way, send the first notifications of new pages now, ahead of it."""
        self._start()
        self._wake.set()
        if self._round_running:
            self._express()

    async def stats(self) -> dict[str, Any]:
        self._start()
        return {
            "channel": self.channel,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "providers": self._delivery.provider_states(time.monotonic()),
            "outcomes_waiting": self._settler.waiting,
            "garbage_collection": garbage_collection(),
            **self._stats,
            **(self._messages.stats if self._messages is not None else {}),
        }

    async def run_once(self) -> int:
        """Claim and deliver what is due now; the number of rows claimed (tests, benchmarks)."""
        return await self._round()

    async def close(self) -> None:
        tasks = [t for t in (self._loop_task, self._express_task, self._messages_task, *self._sending_ahead)
                 if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._messages is not None:
            await self._messages.close()
        await self._delivery.close()
        await self._database.close()

    # -- the loop -----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._loop_task is None and self._providers and self._background:
            self._loop_task = asyncio.create_task(self._loop())
        if self._messages_task is None and self._messages is not None and self._background:
            self._messages_task = asyncio.create_task(self._messages.follow())

    def _slack_messages(self) -> SlackMessages | None:
        web = web_api_of(self._providers) if self.channel == "slack" else None
        if web is None:
            return None
        bus = open_bus(BusAddress.for_settings(self._settings))
        return SlackMessages(web, bus, self._connection, self._clock, self._settings.reachable_url)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            wait = POLL_S
            with self._failure_logged("delivery round"):  # the loop must outlive any one bad row
                if self._orphaned_claims:
                    await self._take_over_claims()
                claimed = await self._round()
                wait = 0.0 if claimed else await self._until_next_due()
            if wait > 0:
                await wait_set(self._wake, wait)

    async def _take_over_claims(self) -> None:
        """Rows the previous incarnation of this actor claimed and had not settled are sent
        soon, not once their lease has run out (LEASE_S, minutes): Ray restarts an actor only
        once its process or its node is dead, and that incarnation was the channel's only
        sender. Soon is at once, or, when a provider can be asked about them, once each
        request that incarnation had sent is answered or given up (the provider timeout), so
        that the provider answers for it."""
        wait_s = self._settings.provider_timeout_s + TAKE_OVER_MARGIN_S if self._in_doubt.askable else 0.0
        grace = timedelta(seconds=wait_s)
        async with self._connection() as conn:
            released = await outbox.release_claims(conn, self.channel, self._clock.now() + grace)
        self._orphaned_claims = False
        if released:
            log.info("channel %s: restarted; %d rows its previous run left sending are due in %.0f s",
                     self.channel, released, grace.total_seconds())

    async def _until_next_due(self) -> float:
        async with self._connection() as conn:
            due = await outbox.next_due(conn, self.channel, self._holdings.ids)
        if due is None:
            return POLL_S
        return min(POLL_S, max(0.0, (due - self._clock.now()).total_seconds()))

    async def _round(self) -> int:
        """A round of delivery, during which nudges send first notifications ahead."""
        self._round_running = True
        try:
            return await self._deliver_due()
        finally:
            self._round_running = False

    async def _deliver_due(self, first_of_pages: bool = False) -> int:
        """One round: claim what is due and deliver it; with `first_of_pages`, only the first
        notification of each page, ahead of any round under way. The number claimed."""
        now = self._clock.now()
        limit, max_rank = (EXPRESS_CLAIM, outbox.FIRST_OF_PAGE) if first_of_pages else (
            self._claim_size(), outbox.ANY_RANK)
        async with self._connection() as conn:
            await self._holdings.give_back(conn, now)
            rows = await outbox.claim_due(conn, self.channel, now, limit, LEASE_S, max_rank, self._holdings.ids)
            if not rows:
                return 0
            self._holdings.take(rows)
            try:
                context = await outbox.context(conn, [r["id"] for r in rows])
                plan = await self._throttles.plan(conn, rows, now)
                answers = await self._composer.answers(conn, self._to_compose(plan, context), now)
            except DATABASE_ERRORS:
                self._holdings.untried(rows)
                raise
            except BaseException:
                self._holdings.release(rows)  # claimed again once their leases run out
                raise
        sending = {r["id"] for send in plan for r in send.rows}
        self._holdings.release(r for r in rows if r["id"] not in sending)  # a throttle held them back: pending
        for send in plan:
            self._throttles.dispatched(send)
        self._stats["express" if first_of_pages else "claimed"] += len(rows)
        deliveries = [self._deliver(send, context[send.row["id"]], answers, first_of_pages) for send in plan]
        if first_of_pages:  # held meanwhile: the next express claim need not wait for these sends
            for delivery in deliveries:
                self._send_ahead(delivery)
        else:
            await asyncio.gather(*deliveries)
        return len(rows)

    def _send_ahead(self, delivery: Coroutine[Any, Any, None]) -> None:
        """A first notification on its way, while the express claims go on: a page falling
        due during a send of the express lane reaches its first person without waiting for
        the sends claimed before it (their rows are held, so no claim takes them again)."""
        async def sent() -> None:
            with self._failure_logged("sending a first notification ahead"):
                await delivery

        task = asyncio.create_task(sent())
        self._sending_ahead.add(task)
        task.add_done_callback(self._sending_ahead.discard)

    def _to_compose(self, plan: list[Send], context: Mapping[int, Where]) -> list[Send]:
        """The sends that get as far as being composed: those that can go somewhere, and
        that are not given up."""
        return [send for send in plan if undeliverable(send.row, context[send.row["id"]]) is None
                and not self._delivery.claimed_too_often(send.row)]

    def _express(self) -> None:
        """During a storm a round takes a while (hundreds of rows at the provider's rate): a
        page falling due meanwhile reaches its first person now, not after the round."""
        if self._express_task is not None and not self._express_task.done():
            self._express_again = True  # it looks once more when done
            return
        self._express_task = asyncio.create_task(self._deliver_first_pages())

    async def _deliver_first_pages(self) -> None:
        with self._failure_logged("sending first notifications ahead"):  # the round sends what this could not
            self._express_again = True
            while self._express_again and self._round_running:
                self._express_again = False
                await self._deliver_due(first_of_pages=True)

    @contextlib.contextmanager
    def _failure_logged(self, what: str) -> Iterator[None]:
        """A failure ends this piece of work, logged, and nothing else: rows left claimed are
        claimed again when their lease runs out, or by the next round."""
        try:
            yield
        except DATABASE_ERRORS as exc:
            log.warning("channel %s: cannot reach the database: %r", self.channel, exc)
        except Exception:  # noqa: BLE001 - the actor must outlive any one bad row
            log.exception("channel %s: %s failed", self.channel, what)

    def _claim_size(self) -> int:
        """Enough to keep the providers busy for a few seconds, not more: a claimed row waits
        for its provider's tokens while its lease runs."""
        rate = max(self._settings.rate_for(p.name) for p in self._providers)
        return max(1, min(200, int(rate * 4)))

    # -- one send ------------------------------------------------------------------------------

    async def _deliver(self, send: Send, where: Where, answers: Answers, urgent: bool = False) -> None:
        try:
            await self._send_and_settle(send, where, answers, urgent)
        except DATABASE_ERRORS:
            # Before any provider was given it: once a provider is, nothing but the outcome's
            # writing touches the database, and that is retried until it lands.
            self._holdings.untried(send.rows)
            raise
        finally:
            self._holdings.release(send.rows)
            self._throttles.settled(send)

    async def _send_and_settle(self, send: Send, where: Where, answers: Answers, urgent: bool) -> None:
        async with self._express_slots if urgent else self._slots:
            reason = undeliverable(send.row, where)
            if reason is not None:
                async with self._connection() as conn:
                    await outbox.finish(conn, send.row["id"], "cancelled", reason, self._clock.now())
                self._stats["cancelled"] += 1
                return
            settlement = await self._outcome(send, where, answers, urgent)
        # Written with the other rows settled meanwhile (one commit for the group), and
        # again until it lands; the round waits for it, so the next claim sees every row of
        # this one settled. A row sent and not yet written when the actor dies is looked
        # for at its provider before it is sent again (`in_doubt`).
        await self._settler.settle(settlement)

    async def _outcome(self, send: Send, where: Where, answers: Answers, urgent: bool) -> outbox.Settlement:
        """One round for one row: composed, then through the providers; how it ends."""
        if self._delivery.claimed_too_often(send.row):
            return self._delivery.given_up(send.row)
        try:
            message = self._composer.compose(send, where, answers)
        except Exception as exc:  # noqa: BLE001 - a message that cannot be composed never will be
            log.exception("channel %s: cannot compose notification %s", self.channel, send.row["id"])
            return self._delivery.dead(
                send.row, attempt.storable(f"the message could not be composed: {type(exc).__name__}: {exc}"))
        return await self._delivery.deliver(send, message, urgent)

    def _connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        return self._database.connection()


def _restarted_by_ray() -> bool:
    """Whether this process is a Ray actor that Ray has restarted (False outside Ray)."""
    if not ray.is_initialized() or ray.get_runtime_context().get_actor_id() is None:
        return False
    with warnings.catch_warnings():  # the property reads Ray's own deprecated `actor_id`
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)


ChannelActorRemote: Any = ray.remote(ChannelActor)


def channel_options(channel: str, namespace: str) -> dict[str, Any]:
    return detached_options(channel_name(channel), namespace, max_concurrency=1000)
