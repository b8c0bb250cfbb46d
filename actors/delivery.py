"""Delivering one composed message through a channel's providers, and how its row ends.

- Providers are tried in failover order until one takes the message. Each has a circuit
  breaker (a failing provider is skipped, and probed again after a cool-down); a provider
  whose every address is a server of its own (webhooks) has one per server, so that one
  receiver that is down holds back no one else's messages. Each has a pace: a token bucket
  at its published rate, from which urgent messages (first notifications sent ahead of a
  round) take their tokens first.
- Whatever a provider raises is a failed try like any other (actors/attempt.py); what the
  failure says about the provider moves its breaker. A provider that says the address is
  gone (`AddressGone`: an expired push subscription) ends the row's tries there: it is dead,
  and its settlement says so, for the contact method to be removed.
- A row whose previous try's outcome is unknown (`in_doubt`) is first looked for at the
  providers that can be asked; one found is recorded as sent, and not sent again.
- Every try is an `Attempt`: provider, time, outcome, provider message id, error, latency.
- How the row ends (`Settlement`): sent (with the bundle it carried); dead when every
  provider refused it, after the last round, when it cannot be composed, or when it was
  claimed more rounds than the retry rules allow (its sender died with it each time);
  else pending, again after an exponential back-off with jitter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from tocsin.actors import attempt
from tocsin.actors.domain.breaker import BreakerRules, CircuitBreaker, State
from tocsin.actors.domain.clock import Clock
from tocsin.actors.domain.retry import RetryRules
from tocsin.actors.holdings import Row
from tocsin.actors.in_doubt import InDoubt
from tocsin.actors.pacing import ProviderPace
from tocsin.actors.providers.base import AddressGone, Outgoing, Provider
from tocsin.actors.settings import Settings
from tocsin.actors.store.outbox import Attempt, AttemptOutcome, Settled, Settlement
from tocsin.actors.throttling import Send

log = logging.getLogger(__name__)

NO_PROVIDER = "no provider is configured for this channel"


@dataclass(frozen=True, slots=True)
class Taken:
    """The provider that took a message, and the id it gave it."""

    provider: str
    message_id: str | None


class Delivery:
    def __init__(
        self, channel: str, settings: Settings, providers: list[Provider], clock: Clock, in_doubt: InDoubt,
        stats: MutableMapping[str, int], retry: RetryRules | None = None, breaker: BreakerRules | None = None,
    ) -> None:
        self.channel = channel
        self.providers = providers
        self._settings = settings
        self._clock = clock
        self._in_doubt = in_doubt
        self._stats = stats  # counts "found_sent", "sent", "bundled", "retried", "dead"
        self._retry = retry or RetryRules()
        self._breaker_rules = breaker
        self._breakers = {p.name: CircuitBreaker(breaker) for p in providers}
        # (provider, host) -> breaker, for providers that send each address somewhere else
        self._destination_breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._paces = {p.name: ProviderPace(settings.rate_for(p.name)) for p in providers}

    def claimed_too_often(self, row: Row) -> bool:
        """Whether the row was claimed more rounds than the retry rules allow: its sender died
        with it each time, and it is not sent again (`given_up`)."""
        return bool(row["attempts"] > self._retry.max_attempts)

    def given_up(self, row: Row) -> Settlement:
        return self.dead(row, f"claimed {row['attempts']} times and never settled (its sender died with it"
                              " each time): given up")

    async def deliver(self, send: Send, message: Outgoing, urgent: bool = False) -> Settlement:
        """One round for one row, through the providers, and how it ends."""
        if send.row["in_doubt"]:
            found = await self._in_doubt.find(message, send.row["send_at"])
            if found is not None:
                self._stats["found_sent"] += 1
                taken = Taken(*found)
                recorded = Attempt(send.row["id"], taken.provider, self._clock.now(), AttemptOutcome.SENT,
                                   taken.message_id)
                return self._settlement(send, message, [recorded], taken)
        attempts, taken_by, gone = await self._through_providers(message, urgent)
        settlement = self._settlement(send, message, attempts, taken_by)
        return replace(settlement, address_gone=True) if gone else settlement

    def dead(self, row: Row, error: str | None, attempts: list[Attempt] | None = None) -> Settlement:
        self._stats["dead"] += 1
        return Settlement(row["id"], Settled.DEAD, self._clock.now(), attempts or [], error=error)

    def provider_states(self, now: float) -> list[dict[str, Any]]:
        """Each provider in failover order: its rate, its breaker, the servers whose breaker is
        not closed (`now`: monotonic seconds)."""
        return [
            {"name": p.name, "rate_per_s": self._settings.rate_for(p.name), **self._breakers[p.name].snapshot(now),
             **self._open_destinations(p.name)}
            for p in self.providers
        ]

    async def close(self) -> None:
        for provider in self.providers:
            await provider.close()

    async def _through_providers(self, message: Outgoing, urgent: bool) -> tuple[list[Attempt], Taken | None, bool]:
        """Each provider in order until one takes it: the attempts, who took it (None: no one),
        and whether a provider said the address is gone (then no other is tried)."""
        attempts: list[Attempt] = []
        for provider in self.providers:
            breaker = self._breaker_for(provider, message)
            at = self._clock.now()
            if not breaker.allow(time.monotonic()):
                attempts.append(Attempt(message.notification_id, provider.name, at, AttemptOutcome.CIRCUIT_OPEN,
                                        error="circuit breaker open: provider skipped"))
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
                attempts.append(Attempt(message.notification_id, provider.name, at, failed.outcome,
                                        error=failed.error, latency_ms=_ms_since(started)))
                if isinstance(exc, AddressGone):  # no other provider can reach it either
                    return attempts, None, True
                continue
            breaker.success(time.monotonic())
            sent_as = attempt.message_id(receipt.provider_message_id)
            attempts.append(Attempt(message.notification_id, provider.name, at, AttemptOutcome.SENT, sent_as,
                                    latency_ms=_ms_since(started)))
            return attempts, Taken(provider.name, sent_as), False
        return attempts, None, False

    def _judge(self, breaker: CircuitBreaker, failed: attempt.Failure, exc: Exception) -> None:
        if failed.verdict is attempt.Verdict.DOWN:
            breaker.failure(time.monotonic())
        elif failed.verdict is attempt.Verdict.UP:
            breaker.success(time.monotonic())
        else:
            breaker.inconclusive()
            log.warning("channel %s: %s", self.channel, failed.error, exc_info=exc)

    def _open_destinations(self, provider: str) -> dict[str, list[str]]:
        hosts = [host for (name, host), breaker in self._destination_breakers.items()
                 if name == provider and breaker.state is not State.CLOSED]
        return {"open_destinations": sorted(hosts)} if hosts else {}

    def _breaker_for(self, provider: Provider, message: Outgoing) -> CircuitBreaker:
        """The provider's breaker; for a provider whose every address is a server of its own
        (webhooks), the breaker of that server."""
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

    def _settlement(self, send: Send, message: Outgoing, attempts: list[Attempt], taken: Taken | None) -> Settlement:
        row, now = send.row, self._clock.now()
        if taken is not None:
            kind, text = ("bundle", message.text) if send.bundle else (None, None)
            self._stats["sent"] += 1
            self._stats["bundled"] += len(send.bundle)
            return Settlement(row["id"], Settled.SENT, now, attempts, provider=taken.provider,
                              provider_message_id=taken.message_id, kind=kind, message=text,
                              bundled=[b["id"] for b in send.bundle])
        error = attempts[-1].error if attempts else NO_PROVIDER
        if all(a.outcome is AttemptOutcome.REJECTED for a in attempts) or self._retry.exhausted(row["attempts"]):
            return self.dead(row, error, attempts)
        self._stats["retried"] += 1
        later = now + timedelta(seconds=self._retry.delay(row["attempts"]))
        return Settlement(row["id"], Settled.PENDING, now, attempts, error=error, send_at=later)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
