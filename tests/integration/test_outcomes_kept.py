"""The database goes away right after Twilio took a text: the channel actor keeps the
outcome, writes it once the database is back, and never sends the text again meanwhile,
however long its claim's lease has run out. An outcome written twice is recorded once.

Postgres here is the test's own (tests/cluster/private_postgres.py), stopped as in a crash
and started again; the machine's Postgres serves everyone else and is never stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from tocsin.actors.channel import LEASE_S, ChannelActor
from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.providers import twilio
from tocsin.actors.providers.base import Outgoing, Receipt
from tocsin.actors.providers.settings import TwilioSettings
from tocsin.actors.settings import Settings
from tocsin.actors.store import outbox
from tests.cluster.private_postgres import PrivatePostgres
from tests.conftest import fresh_database, statement_runner
from tests.fakes.twilio_server import FakeTwilio
from tests.integration.outbox_rows import Desk

NUMBER = "+14155550123"


class GoneAfterSending:
    """Twilio, through the real provider; the moment Twilio has taken a text, the database
    stops, before the actor can write down how it went."""

    def __init__(self, provider: twilio.TwilioProvider, postgres: PrivatePostgres) -> None:
        self.name, self.channels = provider.name, provider.channels
        self._provider = provider
        self._postgres = postgres
        self.stopped = asyncio.Event()

    async def send(self, message: Outgoing) -> Receipt:
        receipt = await self._provider.send(message)
        if not self.stopped.is_set():
            await asyncio.to_thread(self._postgres.stop)
            self.stopped.set()
        return receipt

    async def close(self) -> None:
        await self._provider.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
def database(postgres: PrivatePostgres) -> Iterator[str]:
    with fresh_database(postgres.url) as url:
        yield url


async def test_an_outcome_written_while_the_database_is_away_lands_once_it_is_back_and_the_text_goes_once(
    postgres: PrivatePostgres, database: str
) -> None:
    desk = Desk(statement_runner(database), "sms", NUMBER)
    notification = desk.page()
    clock = FakeClock(datetime.now(timezone.utc))
    with FakeTwilio() as fake:
        settings = Settings(**fake.settings(), providers_sms="twilio", rate_twilio_per_s=100, throttle_messages=100)
        real = twilio.from_settings(TwilioSettings.of(settings))
        assert real is not None
        provider = GoneAfterSending(real, postgres)
        actor = ChannelActor("sms", settings, database, clock=clock, providers=[provider], background=False)
        try:
            first = asyncio.create_task(actor.run_once())
            await asyncio.wait_for(provider.stopped.wait(), 30)
            await asyncio.sleep(1.0)  # it tries to write the outcome, and cannot
            await asyncio.to_thread(postgres.restart)
            clock.advance(LEASE_S + 60)  # the claim's lease has run out long ago

            claimed_again = await actor.run_once()
            [claimed_first] = await asyncio.wait_for(asyncio.gather(first, return_exceptions=True), 60)
        finally:
            await actor.close()

        assert len(fake.texts_to(NUMBER)) == 1 and claimed_again == 0
        assert claimed_first == 1  # the round ended once its outcome was written
        row = desk.row(notification)
        assert (row["status"], row["provider_message_id"]) == ("sent", fake.messages[0].sid)
        assert desk.attempts(notification) == [("twilio", "sent")]


async def test_an_outcome_written_again_after_a_lost_answer_is_recorded_once(database: str) -> None:
    """A commit whose answer was lost is written again: nothing is recorded twice."""
    desk = Desk(statement_runner(database), "sms", NUMBER)
    now = datetime.now(timezone.utc)
    notification = desk.page(status="sending", claimed_until=now + timedelta(seconds=LEASE_S))
    tried = outbox.Attempt(notification, "twilio", now, outbox.AttemptOutcome.SENT, "SM1", latency_ms=80.0)
    sent = outbox.Settlement(notification, outbox.Settled.SENT, now, [tried], provider="twilio",
                             provider_message_id="SM1")

    conn = await asyncpg.connect(database)
    try:
        await outbox.settle(conn, [sent])
        await outbox.settle(conn, [sent])
    finally:
        await conn.close()

    assert desk.attempts(notification) == [("twilio", "sent")]
    assert desk.row(notification)["provider_message_id"] == "SM1"
