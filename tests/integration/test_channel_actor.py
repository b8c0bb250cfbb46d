"""The ChannelActor against real Postgres, with scripted providers: failover, the circuit
breaker, back-off to dead, leases, throttles and bundles. (Real provider clients against
fake provider servers are tested in test_providers.py and test_twilio_provider.py.)

A channel actor claims every due row of its channel, and the test deployment runs channel
actors of its own: these tests have a database to themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from tocsin.actors.channel import ChannelActor
from tocsin.actors.domain.breaker import BreakerRules
from tocsin.actors.domain.retry import RetryRules
from tocsin.actors.providers.base import Outgoing, Receipt, ProviderError
from tocsin.actors.settings import Settings
from tocsin.actors.store import outbox
from tests.conftest import statement_runner
from tests.integration.outbox_rows import Desk

CHANNEL = "slack"


class Scripted:
    """A provider whose answers the test sets: "ok", "fail" (retryable), "reject", or "raise"
    (an exception that is no ProviderError, as a bug or a client library's surprise raises);
    with `poison`, it raises so for messages holding those words."""

    def __init__(self, name: str, answer: str = "ok", poison: str | None = None) -> None:
        self.name = name
        self.channels = frozenset({CHANNEL})
        self.answer = answer
        self.poison = poison
        self.received: list[Outgoing] = []

    async def send(self, message: Outgoing) -> Receipt:
        if self.answer == "fail" or any(host in message.address for host in getattr(self, "down_hosts", ())):
            raise ProviderError(f"{self.name} answered 500")
        if self.answer == "reject":
            raise ProviderError(f"{self.name}: invalid channel", retryable=False)
        if self.answer == "raise" or (self.poison is not None and self.poison in message.text):
            raise RuntimeError(f"{self.name} tripped over\x00 this message")
        self.received.append(message)
        return Receipt(f"{self.name}-{message.notification_id}")

    async def close(self) -> None:
        """Holds no connection: nothing to release."""


@pytest.fixture
def desk(own_database: str) -> Desk:
    return Desk(statement_runner(own_database), CHANNEL, "https://hooks.example.com/dana")


@pytest.fixture
def run(own_database: str) -> Callable[..., ChannelActor]:
    """Builds a ChannelActor in the test's event loop (each test closes its own)."""

    def make(*providers: Scripted, **overrides: Any) -> ChannelActor:
        settings = Settings(throttle_messages=overrides.pop("throttle", 100))
        return ChannelActor(CHANNEL, settings, own_database, providers=list(providers), background=False,
                            **overrides)

    return make


async def test_the_first_provider_delivers_and_the_attempt_is_recorded(desk: Desk, run: Any) -> None:
    primary, secondary = Scripted("primary"), Scripted("secondary")
    actor = run(primary, secondary)
    notification = desk.page()

    await actor.run_once()

    row = desk.row(notification)
    assert (row["status"], row["provider"], row["provider_message_id"]) == ("sent", "primary", f"primary-{notification}")
    assert desk.attempts(notification) == [("primary", "sent")]
    [message] = [m for m in primary.received if m.notification_id == notification]
    assert "checkout-api" in message.text and "checkout 5xx" in message.text
    assert secondary.received == []
    await actor.close()


async def test_a_failing_primary_fails_over_opens_its_breaker_and_a_probe_closes_it(desk: Desk, run: Any) -> None:
    primary, secondary = Scripted("primary", "fail"), Scripted("secondary")
    actor = run(primary, secondary, breaker=BreakerRules(max_consecutive=3, cooldown_s=0.5))
    failing = []
    for _ in range(5):  # one at a time, so the order of attempts is known
        failing.append(desk.page())
        await actor.run_once()

    assert all(desk.row(n)["status"] == "sent" and desk.row(n)["provider"] == "secondary" for n in failing)
    assert [desk.attempts(n)[0][1] for n in failing] == ["failed", "failed", "failed", "circuit_open", "circuit_open"]
    state = (await actor.stats())["providers"][0]
    assert (state["name"], state["state"]) == ("primary", "open")

    primary.answer = "ok"
    await asyncio.sleep(0.6)  # the cool-down
    probe = desk.page()
    await actor.run_once()
    assert desk.attempts(probe) == [("primary", "sent")]
    assert (await actor.stats())["providers"][0]["state"] == "closed"
    await actor.close()


async def test_when_every_provider_fails_it_backs_off_then_dies_with_its_last_error(desk: Desk, run: Any) -> None:
    actor = run(Scripted("primary", "fail"), Scripted("secondary", "fail"),
                retry=RetryRules(base_s=0.05, cap_s=0.1, max_attempts=3))
    notification = desk.page()

    await actor.run_once()
    first = desk.row(notification)
    assert first["status"] == "pending" and first["send_at"] > datetime.now(timezone.utc) - timedelta(seconds=0.1)
    for _ in range(20):
        if desk.row(notification)["status"] == "dead":
            break
        await asyncio.sleep(0.1)
        await actor.run_once()

    row = desk.row(notification)
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 3, "secondary answered 500")
    assert len(desk.attempts(notification)) == 6  # three rounds through both
    await actor.close()


async def test_rejected_by_every_provider_is_dead_at_once(desk: Desk, run: Any) -> None:
    actor = run(Scripted("primary", "reject"), Scripted("secondary", "reject"))
    notification = desk.page()

    await actor.run_once()

    row = desk.row(notification)
    assert (row["status"], row["attempts"]) == ("dead", 1)
    assert "invalid channel" in row["last_error"]
    await actor.close()


async def test_a_row_left_sending_by_a_crash_is_sent_once_its_lease_runs_out(desk: Desk, run: Any) -> None:
    provider = Scripted("primary")
    actor = run(provider)
    now = datetime.now(timezone.utc)
    held = desk.page(status="sending", claimed_until=now + timedelta(minutes=1))
    abandoned = desk.page(status="sending", claimed_until=now - timedelta(seconds=1))

    await actor.run_once()

    assert desk.row(abandoned)["status"] == "sent"
    assert desk.row(held)["status"] == "sending"  # its sender may still be at it
    assert [m.notification_id for m in provider.received].count(abandoned) == 1
    await actor.close()


async def test_past_the_throttle_pages_are_bundled_into_one_message(desk: Desk, run: Any) -> None:
    provider = Scripted("primary")
    actor = run(provider, throttle=3)
    storm = [desk.page() for _ in range(8)]

    await actor.run_once()

    rows = [desk.row(n) for n in storm]
    assert [r["status"] for r in rows].count("sent") == 3
    [bundle] = [r for r in rows if r["kind"] == "bundle"]
    assert bundle["message"] == "Tocsin: 6 more incidents on checkout-api"
    assert sorted(r["id"] for r in rows if r["status"] == "bundled") == sorted(
        r["id"] for r in rows if r["bundled_into"] == bundle["id"])
    assert len([r for r in rows if r["status"] == "bundled"]) == 5

    later = desk.page()  # no room left in the window: it waits, it is not dropped
    await actor.run_once()
    row = desk.row(later)
    assert row["status"] == "pending" and row["send_at"] > datetime.now(timezone.utc) + timedelta(seconds=200)
    assert row["attempts"] == 0  # being held is not a failed round
    await actor.close()


async def test_a_page_to_a_stopped_number_or_an_acknowledged_incident_is_cancelled(desk: Desk, run: Any) -> None:
    provider = Scripted("primary")
    actor = run(provider)
    acknowledged = desk.incident()
    desk.db("execute", "UPDATE incidents SET status = 'acknowledged' WHERE id = $1", acknowledged)
    late = desk.page(acknowledged)

    await actor.run_once()
    desk.db("execute", "UPDATE contact_methods SET enabled = false WHERE id = $1", desk.method)
    stopped = desk.page()
    await actor.run_once()

    assert (desk.row(late)["status"], desk.row(late)["last_error"]) == ("cancelled", "the incident is acknowledged")
    assert desk.row(stopped)["status"] == "cancelled" and "STOP" in desk.row(stopped)["last_error"]
    assert provider.received == []
    await actor.close()


async def test_the_first_notification_of_a_page_is_claimed_before_the_rest_of_older_pages(
    desk: Desk, own_database: str
) -> None:
    now = datetime.now(timezone.utc)
    older = [desk.page(send_at=now - timedelta(seconds=10 - n)) for n in range(3)]  # the rest of older pages
    first = desk.page(send_at=now - timedelta(seconds=1), rank=0)  # a new incident's first page

    conn = await asyncpg.connect(own_database)
    try:
        claimed = await outbox.claim_due(conn, CHANNEL, now, 2, 30)
    finally:
        await conn.close()

    assert [row["id"] for row in claimed] == [first, older[0]]  # then in the order they fell due


async def test_a_claim_takes_pending_rows_and_rows_whose_lease_ran_out_in_one_order(own_database: str) -> None:
    """Pending rows and rows left sending past their lease are looked for apart (each through
    its own index); the claim still takes them in one order, first pages first, and says
    which ones may have been sent before."""
    channel = "teams"  # a channel no other test of the module leaves rows in
    desk = Desk(statement_runner(own_database), channel, "https://teams.example.com/workflow")
    now = datetime.now(timezone.utc)
    lapsed = now - timedelta(seconds=5)
    rest = desk.page(send_at=now - timedelta(seconds=9))
    lapsed_rest = desk.page(send_at=now - timedelta(seconds=8), status="sending", claimed_until=lapsed)
    lapsed_first = desk.page(send_at=now - timedelta(seconds=2), status="sending", claimed_until=lapsed, rank=0)
    first = desk.page(send_at=now - timedelta(seconds=1), rank=0)
    held = desk.page(send_at=now - timedelta(seconds=10), status="sending", claimed_until=lapsed, rank=0)
    desk.page(send_at=now - timedelta(seconds=10), status="sending", claimed_until=now + timedelta(seconds=60))
    desk.page(send_at=now + timedelta(seconds=60), rank=0)  # not due yet

    conn = await asyncpg.connect(own_database)
    try:
        claimed = await outbox.claim_due(conn, channel, now, 10, 30, held=[held])
        again = await outbox.claim_due(conn, channel, now, 10, 30, held=[held])
    finally:
        await conn.close()

    assert [(row["id"], row["in_doubt"]) for row in claimed] == [
        (lapsed_first, True), (first, False), (rest, False), (lapsed_rest, True)]
    assert again == []  # each is claimed once, until its new lease runs out


async def test_a_page_falling_due_during_a_long_round_reaches_its_first_person_ahead_of_the_round(
    desk: Desk, run: Any
) -> None:
    provider = Scripted("primary")  # 10 messages/s: a round of 20 takes two seconds
    actor = run(provider)
    round_rows = [desk.page() for _ in range(20)]  # the rest of older pages
    under_way = asyncio.create_task(actor.run_once())
    await asyncio.sleep(0.3)

    first = desk.page(rank=0)  # a new incident's first notification, due now
    second = desk.page(rank=1)  # the same page's next person: waits for the next round
    await actor.nudge()  # as the shard does after the commit
    await under_way

    order = [m.notification_id for m in provider.received]
    assert first in order[:8], f"sent {order.index(first) + 1}th of {len(order)}"
    assert set(round_rows) <= set(order) and second not in order
    assert desk.row(second)["status"] == "pending"
    await actor.run_once()
    assert desk.row(second)["status"] == "sent" and order.count(first) == 1
    await actor.close()


class Gated(Scripted):
    """Scripted, but a send of a notification in `held` waits until `opened` is set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.held: set[int] = set()
        self.opened = asyncio.Event()
        self.waiting: set[int] = set()

    async def send(self, message: Outgoing) -> Receipt:
        if message.notification_id in self.held:
            self.waiting.add(message.notification_id)
            await self.opened.wait()
        return await super().send(message)


async def test_a_first_notification_sent_ahead_does_not_wait_for_one_sent_ahead_before_it(
    desk: Desk, run: Any
) -> None:
    provider = Gated("primary")  # 10 messages/s: a round of 20 takes two seconds
    actor = run(provider)
    [desk.page() for _ in range(20)]
    under_way = asyncio.create_task(actor.run_once())
    await asyncio.sleep(0.3)
    slow = desk.page(rank=0)
    provider.held.add(slow)  # its provider takes its time with it
    await actor.nudge()
    while slow not in provider.waiting:
        await asyncio.sleep(0.01)

    quick = desk.page(rank=0)  # another new incident's first notification, due meanwhile
    await actor.nudge()
    for _ in range(100):
        if quick in {m.notification_id for m in provider.received}:
            break
        await asyncio.sleep(0.01)

    received = [m.notification_id for m in provider.received]
    assert quick in received and slow not in received
    provider.opened.set()
    await under_way
    await actor.run_once()
    received = [m.notification_id for m in provider.received]
    assert received.count(slow) == 1 and received.count(quick) == 1
    assert desk.row(slow)["status"] == desk.row(quick)["status"] == "sent"
    await actor.close()


async def test_a_page_sent_ahead_of_a_round_counts_what_the_round_is_still_sending_to_that_person(
    desk: Desk, run: Any
) -> None:
    provider = Scripted("primary")  # 10 messages/s
    actor = run(provider, throttle=3)
    round_rows = [desk.page() for _ in range(3)]  # as many as the throttle lets through
    under_way = asyncio.create_task(actor.run_once())
    await asyncio.sleep(0.05)  # one sent, two still being sent

    first = desk.page(rank=0)
    await actor.nudge()
    await under_way

    assert {m.notification_id for m in provider.received} == set(round_rows)
    held = desk.row(first)
    assert held["status"] == "pending" and held["send_at"] > datetime.now(timezone.utc)
    await actor.close()


async def test_messages_a_provider_rejects_leave_its_breaker_closed_for_everyone_else(desk: Desk, run: Any) -> None:
    provider = Scripted("primary", "reject")  # as for an address that is gone: the provider is up
    actor = run(provider, breaker=BreakerRules(max_consecutive=3, cooldown_s=60))
    for _ in range(5):
        desk.page()
        await actor.run_once()

    provider.answer = "ok"
    next_one = desk.page()
    await actor.run_once()
    assert desk.attempts(next_one) == [("primary", "sent")]
    assert (await actor.stats())["providers"][0]["state"] == "closed"
    await actor.close()


async def test_a_receiver_that_is_down_opens_its_own_breaker_not_everyones(
    desk: Desk, own_database: str, run: Any
) -> None:
    """Webhooks go to servers of their receivers' own: one that is down is skipped after a
    few failures, while the pages of everyone else go out through the same provider."""
    webhook = Scripted("webhook")
    webhook.per_destination = True  # type: ignore[attr-defined]
    webhook.down_hosts = {"down.example.net"}  # type: ignore[attr-defined]
    other = Desk(statement_runner(own_database), CHANNEL, "https://down.example.net/hook")
    actor = run(webhook, breaker=BreakerRules(max_consecutive=2, cooldown_s=60))

    for _ in range(3):  # one at a time: two failures open that receiver's breaker
        other.page()
        await actor.run_once()
    healthy = desk.page()
    await actor.run_once()

    assert desk.row(healthy)["status"] == "sent"
    state = (await actor.stats())["providers"][0]
    assert (state["state"], state["open_destinations"]) == ("closed", ["down.example.net"])
    await actor.close()


async def test_whatever_a_provider_raises_is_a_failed_try_and_the_next_provider_sends(desk: Desk, run: Any) -> None:
    primary, secondary = Scripted("primary", "raise"), Scripted("secondary")
    actor = run(primary, secondary, breaker=BreakerRules(max_consecutive=2, cooldown_s=60))
    pages = []
    for _ in range(3):  # one at a time: as many failures in a row as would open the breaker
        pages.append(desk.page())
        await actor.run_once()

    assert [desk.row(n)["status"] for n in pages] == ["sent"] * 3
    assert [desk.attempts(n) for n in pages] == [[("primary", "failed"), ("secondary", "sent")]] * 3
    # It failed on each message without a word from a service that is down: its breaker stays closed.
    assert (await actor.stats())["providers"][0]["state"] == "closed"
    await actor.close()


async def test_a_provider_that_keeps_raising_ends_the_row_dead_after_its_retries_with_the_error(
    desk: Desk, run: Any
) -> None:
    actor = run(Scripted("primary", "raise"), retry=RetryRules(base_s=0.05, cap_s=0.1, max_attempts=3))
    notification = desk.page()

    statuses = []
    for _ in range(30):
        await actor.run_once()
        statuses.append(desk.row(notification)["status"])
        if statuses[-1] == "dead":
            break
        await asyncio.sleep(0.05)

    row = desk.row(notification)
    assert (row["status"], row["attempts"]) == ("dead", 3)
    assert row["last_error"] == "primary: RuntimeError: primary tripped over\ufffd this message"
    assert desk.attempts(notification) == [("primary", "failed")] * 3
    assert "sending" not in statuses
    await actor.close()


async def test_a_message_that_cannot_be_composed_is_dead_with_why(
    desk: Desk, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(alert: Any, link: str | None = None) -> str:
        raise ValueError("no words for this")

    monkeypatch.setattr("tocsin.actors.domain.messages.long_text", broken)
    provider = Scripted("primary")
    actor = run(provider)
    notification = desk.page()

    await actor.run_once()

    row = desk.row(notification)
    assert row["status"] == "dead"
    assert row["last_error"] == "the message could not be composed: ValueError: no words for this"
    assert notification not in [m.notification_id for m in provider.received]
    assert desk.attempts(notification) == []
    await actor.close()


async def test_a_row_claimed_for_more_rounds_than_allowed_without_an_outcome_is_dead(desk: Desk, run: Any) -> None:
    """Its sender died with it every time (a message that brings the process down): it is
    given up, visibly, instead of being claimed again after every restart."""
    provider = Scripted("primary")
    actor = run(provider, retry=RetryRules(max_attempts=3))
    now = datetime.now(timezone.utc)
    crashed = desk.page(status="sending", claimed_until=now - timedelta(seconds=1))
    desk.db("execute", "UPDATE notifications SET attempts = 3 WHERE id = $1", crashed)

    await actor.run_once()

    row = desk.row(crashed)
    assert (row["status"], row["attempts"]) == ("dead", 4)
    assert "never settled" in row["last_error"]
    assert crashed not in [m.notification_id for m in provider.received]
    await actor.close()


async def test_a_first_notification_sent_ahead_of_a_round_fails_like_any_other_when_its_provider_raises(
    desk: Desk, run: Any
) -> None:
    provider = Scripted("primary", poison="poison pill")  # 10 messages/s: a round of 20 takes two seconds
    actor = run(provider)
    round_rows = [desk.page() for _ in range(20)]
    under_way = asyncio.create_task(actor.run_once())
    await asyncio.sleep(0.3)

    first = desk.page(desk.incident("poison pill"), rank=0)
    await actor.nudge()
    await under_way
    for _ in range(50):  # the lane may still be settling it
        if desk.row(first)["status"] != "sending":
            break
        await asyncio.sleep(0.1)

    assert desk.row(first)["status"] == "pending"  # tried again later, as any failed try
    assert desk.attempts(first) == [("primary", "failed")]
    assert all(desk.row(n)["status"] == "sent" for n in round_rows)
    await actor.close()


async def test_rows_claimed_in_a_round_the_database_failed_before_sending_are_sent_by_the_next_round(
    desk: Desk, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claimed, then the database went away before any provider was given them: they are
    claimable again at the next round, not once their leases have run out."""
    provider = Scripted("primary")
    actor = run(provider)
    notification = desk.page()
    context = outbox.context

    async def goes_away_once(conn: Any, ids: Any) -> Any:
        monkeypatch.setattr(outbox, "context", context)
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    monkeypatch.setattr(outbox, "context", goes_away_once)
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await actor.run_once()
    assert desk.row(notification)["status"] == "sending"

    await actor.run_once()

    row = desk.row(notification)
    assert (row["status"], row["attempts"]) == ("sent", 1)  # the round that never tried it is not counted
    assert [m.notification_id for m in provider.received].count(notification) == 1
    await actor.close()
