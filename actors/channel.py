"""ChannelActor: delivers the outbox rows of one channel kind (sms, voice, push, email,
slack, webhook) through that channel's providers.

- Claims due rows with FOR UPDATE SKIP LOCKED, as a lease: a row left "sending" by a crash
  is claimed again once its lease has run out (at least once, never dropped), or, when the
  crash was this actor's own and Ray has restarted it, at once (with a provider that can be
  asked, once every request the dead process had sent is over: the provider timeout).
  Before such a row is sent again, the providers that can be asked (Twilio) are asked
  whether they took it: if one did, it is recorded as sent and not sent again
  (`in_doubt`); through any other it may reach its person twice.
  Woken by a nudge from the shards, and by a short poll as a fallback.
- The outcome of every row it claimed is kept until it is written, and written again while
  the database is away (`settling`); until then the row is this actor's, passed over by its
  claims whatever its lease says (`holdings`): a message a provider took is not sent again
  while the actor that sent it lives.
- Per provider, in failover order: a circuit breaker (a failing provider is skipped, and
  probed again after a cool-down) and a token bucket at the provider's published rate.
- A row that no provider took is tried again after an exponential back-off with jitter;
  after the last round it is dead, with its last error, for the API to list and retry.
  Whatever a provider raises is a failed try like any other (`attempt`); a message that
  cannot be composed is dead at once, with why; a row claimed for more rounds than the
  retry rules allow (its sender died with it each time) is dead rather than claimed again.
- Per contact method, throttle rules: past them, waiting pages go out as one bundle.
- Every try is recorded: provider, time, outcome, provider message id, error, latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import ray

from tocsin.actors import attempt
from tocsin.actors.domain import messages
from tocsin.actors.domain.breaker import BreakerRules, CircuitBreaker
from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.domain.retry import RetryRules
from tocsin.actors.domain.throttle import ThrottleRule, decide
from tocsin.actors.holdings import Holdings
from tocsin.actors.in_doubt import InDoubt
from tocsin.actors.lifecycle import detached_options
from tocsin.actors.pacing import ProviderPace
from tocsin.actors.providers import build
from tocsin.actors.providers.base import Outgoing, Provider
from tocsin.actors.settings import Settings
from tocsin.actors.settling import Settler
from tocsin.actors.store import database, outbox
from tocsin.actors.store.replies import reply_code_for

log = logging.getLogger(__name__)

CHANNELS = ("sms", "voice", "push", "email", "slack", "webhook")
LEASE_S = 120.0  # longer than a round through every provider at its timeout
POLL_S = 1.0
IN_FLIGHT = 32  # rows dispatched at once
EXPRESS_CLAIM = 50  # first notifications of pages claimed at once while a round is under way
ANSWERABLE = ("sms", "voice")  # channels people reply on, so their messages carry a reply code
DATABASE_ERRORS = database.UNAVAILABLE
TAKE_OVER_MARGIN_S = 2.0  # past the provider timeout, before a dead process's claims are taken over


def channel_name(channel: str) -> str:
    return f"tocsin-channel-{channel}"


class ChannelNudger:
    """Wakes channel actors when rows are due now. Looks each one up by name once and keeps
    the handle (a named actor's handle outlives its restarts); a channel with no actor (no
    provider configured) is looked up again only after `retry_s`, as one may be started."""

    def __init__(self, namespace: str, retry_s: float = 30.0) -> None:
        self._namespace = namespace
        self._retry_s = retry_s
        self._handles: dict[str, tuple[Any, float]] = {}  # channel -> (handle or None, looked up at)

    def nudge(self, channels: Iterable[str]) -> None:
        for channel in channels:
            handle = self._handle(channel)
            if handle is not None:
                handle.nudge.remote()  # fire and forget: the actor also polls

    def _handle(self, channel: str) -> Any:
        handle, looked_at = self._handles.get(channel, (None, float("-inf")))
        if handle is None and time.monotonic() - looked_at >= self._retry_s:
            try:
                handle = ray.get_actor(channel_name(channel), namespace=self._namespace)
            except ValueError:
                handle = None  # nothing runs for it: its rows wait, listed by /api/v1/channels
            self._handles[channel] = (handle, time.monotonic())
        return handle


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
        self._breakers = {p.name: CircuitBreaker(breaker) for p in self._providers}
        self._breaker_rules = breaker
        # (provider, host) -> breaker, for providers that send each address somewhere else
        self._destination_breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._paces = {p.name: ProviderPace(settings.rate_for(p.name)) for p in self._providers}
        self._retry = retry or RetryRules()
        self._throttle = [ThrottleRule(settings.throttle_messages, settings.throttle_window_s)]
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._express_slots = asyncio.Semaphore(IN_FLIGHT // 4)
        self._round_running = False
        self._express_task: asyncio.Task[None] | None = None
        self._express_again = False
        # Rows dispatched and not yet settled, per contact method: a throttle decided by one
        # round counts those another round is still sending (the express lane runs beside).
        self._sending_to: dict[str, int] = defaultdict(int)
        self._settler = Settler(channel, self._connection, max_items=IN_FLIGHT * 4)
        self._in_doubt = InDoubt(channel, self._providers, self._connection, settings.provider_timeout_s)
        self._holdings = Holdings()  # rows claimed here and not yet settled
        self._database = database.Database(database_url, max_size=IN_FLIGHT // 4, close_failed=True)
        self._loop_task: asyncio.Task[None] | None = None
        self._stats: dict[str, int] = defaultdict(int)
        self._orphaned_claims = _restarted_by_ray()
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
        now = time.monotonic()
        return {
            "channel": self.channel,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "providers": [
                {"name": p.name, "rate_per_s": self._settings.rate_for(p.name), **self._breakers[p.name].snapshot(now),
                 **self._open_destinations(p.name, now)}
                for p in self._providers
            ],
            "outcomes_waiting": self._settler.waiting,
            **self._stats,
        }

    async def run_once(self) -> int:
        """Claim and deliver what is due now; the number of rows claimed (tests, benchmarks)."""
        return await self._round()

    async def close(self) -> None:
        tasks = [t for t in (self._loop_task, self._express_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for provider in self._providers:
            await provider.close()
        await self._database.close()

    # -- the loop -----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._loop_task is None and self._providers and self._background:
            self._loop_task = asyncio.create_task(self._loop())

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
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

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
                plan = await self._throttled(conn, rows, now)
            except DATABASE_ERRORS:
                self._holdings.untried(rows)
                raise
            except BaseException:
                self._holdings.release(rows)  # claimed again once their leases run out
                raise
        sending = {r["id"] for row, bundle in plan for r in (row, *bundle)}
        self._holdings.release(r for r in rows if r["id"] not in sending)  # a throttle held them back: pending
        for row, _ in plan:
            self._sending_to[row["contact_method_id"]] += 1
        self._stats["express" if first_of_pages else "claimed"] += len(rows)
        await asyncio.gather(*(self._deliver(row, context[row["id"]], extra, first_of_pages) for row, extra in plan))
        return len(rows)

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

    # -- throttles and bundles ------------------------------------------------------------

    async def _throttled(
        self, conn: asyncpg.Connection, rows: list[dict[str, Any]], now: datetime
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """What to send: each row alone, or a row carrying a bundle of others. Rows a
        throttle holds back go back to pending until the window has room."""
        pages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        plan: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for row in rows:
            if row["kind"] == "page":
                pages[row["contact_method_id"]].append(row)
            else:
                plan.append((row, []))
        if not pages:
            return plan
        window = max(rule.window_s for rule in self._throttle)
        sent = await outbox.recent_sends(conn, list(pages), now - timedelta(seconds=window))
        for method, waiting in pages.items():
            times = [at.timestamp() for at in sent.get(method, [])]
            times += [now.timestamp()] * self._sending_to.get(method, 0)  # as if sent just now
            decision = decide(self._throttle, times, now.timestamp(), len(waiting))
            plan += [(row, []) for row in waiting[: decision.send]]
            if decision.bundle:
                plan.append((waiting[decision.send], waiting[decision.send + 1:]))
            elif decision.send == 0:
                later = now + timedelta(seconds=decision.wait_s)
                await outbox.hold(conn, [row["id"] for row in waiting], later, now)
                self._stats["throttled"] += len(waiting)
        return plan

    # -- one row ---------------------------------------------------------------------------

    async def _deliver(
        self, row: dict[str, Any], where: dict[str, Any], bundle: list[dict[str, Any]], urgent: bool = False
    ) -> None:
        try:
            await self._send_and_settle(row, where, bundle, urgent)
        except DATABASE_ERRORS:
            # Before any provider was given it: once a provider is, nothing but the outcome's
            # writing touches the database, and that is retried until it lands.
            self._holdings.untried([row, *bundle])
            raise
        finally:
            self._holdings.release([row, *bundle])
            method = row["contact_method_id"]
            self._sending_to[method] -= 1
            if not self._sending_to[method]:
                del self._sending_to[method]

    async def _send_and_settle(
        self, row: dict[str, Any], where: dict[str, Any], bundle: list[dict[str, Any]], urgent: bool
    ) -> None:
        async with self._express_slots if urgent else self._slots:
            reason = _undeliverable(row, where)
            if reason is not None:
                async with self._connection() as conn:
                    await outbox.finish(conn, row["id"], "cancelled", reason, self._clock.now())
                self._stats["cancelled"] += 1
                return
            settlement = await self._try(row, where, bundle, urgent)
        # Written with the other rows settled meanwhile (one commit for the group), and
        # again until it lands; the round waits for it, so the next claim sees every row of
        # this one settled. A row sent and not yet written when the actor dies is looked
        # for at its provider before it is sent again (`in_doubt`).
        await self._settler.settle(settlement)

    async def _try(
        self, row: dict[str, Any], where: dict[str, Any], bundle: list[dict[str, Any]], urgent: bool
    ) -> outbox.Settlement:
        """One round for one row, through the providers, and how it ends."""
        if row["attempts"] > self._retry.max_attempts:
            return self._dead(row, f"claimed {row['attempts']} times and never settled (its sender died with it"
                                   " each time): given up")
        try:
            message = await self._message(row, where, bundle)
        except DATABASE_ERRORS:
            raise  # not the row's fault: it is claimed again when its lease runs out
        except Exception as exc:  # noqa: BLE001 - a message that cannot be composed never will be
            log.exception("channel %s: cannot compose notification %s", self.channel, row["id"])
            return self._dead(row, attempt.storable(f"the message could not be composed: {type(exc).__name__}: {exc}"))
        if row["in_doubt"]:
            found = await self._in_doubt.find(message, row["send_at"])
            if found is not None:
                self._stats["found_sent"] += 1
                taken = (row["id"], found[0], self._clock.now(), "sent", found[1], None, None)
                return self._settlement(row, message, bundle, [taken], found)
        attempts, receipt = await self._through_providers(message, urgent)
        return self._settlement(row, message, bundle, attempts, receipt)

    async def _through_providers(
        self, message: Outgoing, urgent: bool = False
    ) -> tuple[list[tuple[Any, ...]], tuple[str, str | None] | None]:
        """Each provider in order until one takes it: (attempts, (provider, message id) or None)."""
        attempts: list[tuple[Any, ...]] = []
        for provider in self._providers:
            breaker = self._breaker_for(provider, message)
            at = self._clock.now()
            if not breaker.allow(time.monotonic()):
                attempts.append((message.notification_id, provider.name, at, "circuit_open", None,
                                 "circuit breaker open: provider skipped", None))
                continue
            # Urgent rows (first notifications sent ahead of a round) go before the round's.
            await self._paces[provider.name].take(urgent)
            at = self._clock.now()  # when the request went out, after any wait for the rate limit
            started = time.perf_counter()
            try:
                receipt = await asyncio.wait_for(provider.send(message), self._settings.provider_timeout_s)
            except Exception as exc:  # noqa: BLE001 - whatever a provider raises is a failed try
                failed = attempt.failure(provider.name, exc, self._settings.provider_timeout_s)
                self._judge(breaker, failed, exc)
                attempts.append((message.notification_id, provider.name, at, failed.outcome, None, failed.error,
                                 (time.perf_counter() - started) * 1000))
                continue
            breaker.success(time.monotonic())
            sent_as = attempt.message_id(receipt.provider_message_id)
            attempts.append((message.notification_id, provider.name, at, "sent", sent_as, None,
                             (time.perf_counter() - started) * 1000))
            return attempts, (provider.name, sent_as)
        return attempts, None

    def _judge(self, breaker: CircuitBreaker, failed: attempt.Failure, exc: Exception) -> None:
        if failed.verdict is attempt.Verdict.DOWN:
            breaker.failure(time.monotonic())
        elif failed.verdict is attempt.Verdict.UP:
            breaker.success(time.monotonic())
        else:
            breaker.inconclusive()
            log.warning("channel %s: %s", self.channel, failed.error, exc_info=exc)

    def _open_destinations(self, provider: str, now: float) -> dict[str, list[str]]:
        hosts = [host for (name, host), breaker in self._destination_breakers.items()
                 if name == provider and breaker.snapshot(now)["state"] != "closed"]
        return {"open_destinations": sorted(hosts)} if hosts else {}

    def _breaker_for(self, provider: Provider, message: Outgoing) -> CircuitBreaker:
        """The provider's breaker; for a provider whose every address is a server of its own
        (webhooks), the breaker of that server, so that one receiver that is down does not
        hold back everyone else's messages."""
        if not getattr(provider, "per_destination", False):
            return self._breakers[provider.name]
        try:
            host = urlsplit(message.address).netloc.lower()
        except ValueError:  # not a URL: the provider refuses it, under a breaker of its own
            host = message.address
        key = (provider.name, host)
        if key not in self._destination_breakers:
            self._destination_breakers[key] = CircuitBreaker(self._breaker_rules)
        return self._destination_breakers[key]

    def _settlement(
        self, row: dict[str, Any], message: Outgoing, bundle: list[dict[str, Any]],
        attempts: list[tuple[Any, ...]], receipt: tuple[str, str | None] | None,
    ) -> outbox.Settlement:
        now = self._clock.now()
        if receipt is not None:
            kind, text = ("bundle", message.text) if bundle else (None, None)
            self._stats["sent"] += 1
            self._stats["bundled"] += len(bundle)
            return outbox.Settlement(row["id"], "sent", now, attempts, provider=receipt[0],
                                     provider_message_id=receipt[1], kind=kind, message=text,
                                     bundled=[b["id"] for b in bundle])
        error = attempts[-1][5] if attempts else "no provider is configured for this channel"
        if all(a[3] == "rejected" for a in attempts) or self._retry.exhausted(row["attempts"]):
            return self._dead(row, error, attempts)
        self._stats["retried"] += 1
        later = now + timedelta(seconds=self._retry.delay(row["attempts"]))
        return outbox.Settlement(row["id"], "pending", now, attempts, error=error, send_at=later)

    def _dead(self, row: dict[str, Any], error: str, attempts: list[tuple[Any, ...]] | None = None
              ) -> outbox.Settlement:
        self._stats["dead"] += 1
        return outbox.Settlement(row["id"], "dead", self._clock.now(), attempts or [], error=error)

    async def _message(self, row: dict[str, Any], where: dict[str, Any], bundle: list[dict[str, Any]]) -> Outgoing:
        service = where["service_name"] or "a deleted service"
        if row["kind"] == "verification" or row["incident_id"] is None:
            return Outgoing(row["id"], self.channel, where["address"], "Tocsin", row["message"])
        if bundle:
            text = messages.bundle(len(bundle) + 1, service)
            return Outgoing(row["id"], self.channel, where["address"], text, text)
        code = None
        if self.channel in ANSWERABLE:
            async with self._connection() as conn:
                code = await reply_code_for(conn, row["contact_method_id"], row["incident_id"])
        alert = messages.Alert(row["incident_id"], service, where["summary"] or row["message"], row["urgency"], code)
        link = f"{self._settings.reachable_url}/api/v1/incidents/{row['incident_id']}"
        return Outgoing(row["id"], self.channel, where["address"], messages.subject(alert), self._words(alert, link),
                        incident_id=row["incident_id"], reply_code=code, link=link,
                        callback_url=f"{self._settings.reachable_url}/webhooks/twilio")

    def _words(self, alert: messages.Alert, link: str) -> str:
        if self.channel == "sms":
            return messages.sms(alert)
        if self.channel == "voice":
            return messages.voice(alert)
        # Slack shows the link apart from the text, as a link; other channels carry it in the text.
        return messages.long_text(alert, None if self.channel == "slack" else link)

    def _connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        return self._database.connection()


def _restarted_by_ray() -> bool:
    """Whether this process is a Ray actor that Ray has restarted (False outside Ray)."""
    if not ray.is_initialized() or ray.get_runtime_context().get_actor_id() is None:
        return False
    with warnings.catch_warnings():  # the property reads Ray's own deprecated `actor_id`
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)


def _undeliverable(row: dict[str, Any], where: dict[str, Any]) -> str | None:
    """Why a row cannot go anywhere (it is cancelled with that reason), or None."""
    if where["address"] is None:
        return "the contact method no longer exists"
    if not where["enabled"]:
        return "the contact method is switched off (STOP)"
    if row["kind"] == "page" and where["incident_status"] not in (None, "triggered"):
        return f"the incident is {where['incident_status']}"
    return None


ChannelActorRemote: Any = ray.remote(ChannelActor)


def channel_options(channel: str, namespace: str) -> dict[str, Any]:
    return detached_options(channel_name(channel), namespace, max_concurrency=1000)
