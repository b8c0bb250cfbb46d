"""A text whose sender died after Twilio took it, before its outcome was written: the next
sender asks Twilio, finds it there, records it sent, and does not text the person again.

The sender dies two ways here: a channel actor killed under Ray (Ray restarts it, and the
new one takes over what the old one had claimed), and one abandoned mid-send in this
process, its row then claimed again once its lease ran out. What the person received is
read from the fake Twilio's phone side."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
import ray

from tocsin.actors.channel import ChannelActor, ChannelActorRemote, channel_options
from tocsin.actors.settings import Settings
from tocsin.actors.store import outbox
from tests.conftest import statement_runner
from tests.fakes.twilio_server import FakeTwilio
from tests.integration.outbox_rows import Desk

NAMESPACE = "tocsin-integration"
NUMBER = "+14155550144"
TAKES_S = 1.5  # how long the fake Twilio takes to take a text


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as twilio:
        yield twilio


def sms_settings(fake: FakeTwilio) -> Settings:
    # The provider timeout outlasts the fake's slowness: a text asked for is taken.
    return Settings(**fake.settings(), providers_sms="twilio", rate_twilio_per_s=100, throttle_messages=100,
                    provider_timeout_s=TAKES_S + 1.5)


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not {what} within {timeout_s:.0f} s"
        time.sleep(0.1)


def test_a_text_twilio_took_as_the_sms_actor_was_killed_is_found_there_by_its_restart_and_not_sent_again(
    ray_address: str, own_database: str, fake: FakeTwilio
) -> None:
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    fake.hang(TAKES_S)
    actor = ChannelActorRemote.options(**channel_options("sms", NAMESPACE)).remote(
        "sms", sms_settings(fake), own_database)
    try:
        pid = ray.get(actor.stats.remote(), timeout=120)["pid"]
        notification = desk.page()
        actor.nudge.remote()
        eventually(lambda: fake.in_flight > 0, "asked for a text")
        ray.kill(actor, no_restart=False)  # while Twilio is taking it
        [sms] = fake.wait_for(1, timeout_s=TAKES_S + 5)
        fake.hang(0)
        eventually(lambda: ray.get(actor.stats.remote(), timeout=120)["pid"] != pid, "restarted", 120)

        eventually(lambda: desk.row(notification)["status"] == "sent", "recorded as sent")
        stats = ray.get(actor.stats.remote(), timeout=60)
    finally:
        ray.kill(actor, no_restart=True)

    assert fake.texts_to(NUMBER) == [sms.body]
    assert desk.row(notification)["provider_message_id"] == sms.sid
    assert desk.attempts(notification) == [("twilio", "sent")]
    assert stats["found_sent"] == 1
    assert stats["garbage_collection"]["frozen_objects"] > 10_000  # its restart, too, keeps them out of collections


async def abandon_after_twilio_took_it(desk: Desk, fake: FakeTwilio, database: str,
                                      monkeypatch: pytest.MonkeyPatch) -> int:
    """A page whose sender is gone after Twilio took its text, before its outcome was
    written, and whose lease has run out since."""
    notification = desk.page()
    written = asyncio.Event()

    async def never_written(conn: Any, settlements: Any) -> None:
        await written.wait()

    with monkeypatch.context() as patched:
        patched.setattr(outbox, "settle", never_written)
        abandoned = ChannelActor("sms", sms_settings(fake), database, background=False)
        sending = asyncio.create_task(abandoned.run_once())
        await asyncio.to_thread(fake.wait_for, 1, TAKES_S + 5)
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
    written.set()
    await abandoned.close()
    desk.db("execute", "UPDATE notifications SET claimed_until = now() - interval '1 second' WHERE id = $1",
            notification)
    return notification


async def test_a_text_twilio_took_for_a_sender_abandoned_mid_send_is_recorded_once_its_lease_runs_out(
    own_database: str, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    notification = await abandon_after_twilio_took_it(desk, fake, own_database, monkeypatch)

    successor = ChannelActor("sms", sms_settings(fake), own_database, background=False)
    claimed = await successor.run_once()
    await successor.close()

    assert claimed == 1 and len(fake.texts_to(NUMBER)) == 1
    sms = fake.messages[0]
    row = desk.row(notification)
    assert (row["status"], row["provider_message_id"]) == ("sent", sms.sid)
    assert desk.attempts(notification) == [("twilio", "sent")]


async def test_a_row_in_doubt_whose_look_up_the_database_failed_is_still_in_doubt_at_the_next_round(
    own_database: str, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    notification = await abandon_after_twilio_took_it(desk, fake, own_database, monkeypatch)
    recorded = outbox.recorded

    async def goes_away_once(*args: Any) -> Any:
        monkeypatch.setattr(outbox, "recorded", recorded)
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    monkeypatch.setattr(outbox, "recorded", goes_away_once)
    successor = ChannelActor("sms", sms_settings(fake), own_database, background=False)
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await successor.run_once()
    await successor.run_once()
    await successor.close()

    assert len(fake.texts_to(NUMBER)) == 1
    row = desk.row(notification)
    assert (row["status"], row["provider_message_id"]) == ("sent", fake.messages[0].sid)


async def test_a_text_in_doubt_is_sent_when_what_twilio_took_with_its_words_was_another_notifications(
    own_database: str, fake: FakeTwilio
) -> None:
    """The same incident paged to the same number again (another pass) has the same words:
    a text another row records is that row's, not this one's."""
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    incident = desk.incident()
    earlier = desk.page(incident)
    sender = ChannelActor("sms", sms_settings(fake), own_database, background=False)
    await sender.run_once()
    lease_ran_out = datetime.now(timezone.utc) - timedelta(seconds=1)
    in_doubt = desk.page(incident, page=2, status="sending", claimed_until=lease_ran_out)

    await sender.run_once()
    await sender.close()

    assert len(fake.texts_to(NUMBER)) == 2 and len(set(fake.texts_to(NUMBER))) == 1
    assert desk.row(in_doubt)["status"] == "sent"
    assert desk.row(in_doubt)["provider_message_id"] == fake.messages[1].sid
