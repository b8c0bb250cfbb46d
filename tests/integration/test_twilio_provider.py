"""The Twilio provider through the real `twilio` client against a fake Twilio on loopback:
what the phone receives, the SIDs that come back, and how failures are told apart."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.providers import twilio
from tocsin.actors.providers.base import Outgoing, ProviderError
from tocsin.actors.providers.settings import TwilioSettings
from tocsin.actors.settings import Settings
from tests.conftest import free_port
from tests.fakes.twilio_server import FakeTwilio

TIMEOUT_S = 0.5
ALICE = "+14155550101"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def settings(fake: FakeTwilio) -> Settings:
    return Settings(**fake.settings(), public_url="https://tocsin.example.com/", provider_timeout_s=TIMEOUT_S)


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[twilio.TwilioProvider]:
    provider = twilio.from_settings(TwilioSettings.of(settings))
    assert provider is not None
    yield provider
    await provider.close()


def text(notification_id: int = 7, to: str = ALICE, body: str = "Tocsin #3 checkout: Disk full") -> Outgoing:
    return Outgoing(notification_id=notification_id, channel="sms", address=to, subject="Tocsin #3", text=body,
                    incident_id=3, reply_code=1)


def call(notification_id: int = 8, to: str = ALICE) -> Outgoing:
    return Outgoing(notification_id=notification_id, channel="voice", address=to, subject="Tocsin #3",
                    text="Disk full", incident_id=3)


@pytest.mark.parametrize("missing", ["twilio_account_sid", "twilio_auth_token", "twilio_from_number"])
def test_not_configured_without_each_credential(fake: FakeTwilio, missing: str) -> None:
    assert twilio.from_settings(TwilioSettings.of(Settings(**{**fake.settings(), missing: None}))) is None


async def test_a_text_reaches_the_phone_with_its_body_and_status_callback(
    fake: FakeTwilio, provider: twilio.TwilioProvider
) -> None:
    receipt = await provider.send(text(body="Tocsin #3 checkout: Disk full. Reply 1a ack"))

    [sms] = fake.messages
    assert (sms.to, sms.from_, sms.body) == (ALICE, fake.from_number, "Tocsin #3 checkout: Disk full. Reply 1a ack")
    assert sms.status_callback == "https://tocsin.example.com/webhooks/twilio/status"
    assert receipt.provider_message_id == sms.sid and sms.sid.startswith("SM")


async def test_a_call_fetches_its_words_from_the_voice_webhook(
    fake: FakeTwilio, provider: twilio.TwilioProvider
) -> None:
    receipt = await provider.send(call(notification_id=42))

    [placed] = fake.calls
    assert (placed.to, placed.from_) == (ALICE, fake.from_number)
    assert placed.url == "https://tocsin.example.com/webhooks/twilio/voice?notification=42"
    assert placed.status_callback == "https://tocsin.example.com/webhooks/twilio/status"
    assert placed.status_callback_events == twilio.CALL_EVENTS
    assert receipt.provider_message_id == placed.sid and placed.sid.startswith("CA")
    assert fake.messages == []


async def test_one_session_carries_many_messages(fake: FakeTwilio, provider: twilio.TwilioProvider) -> None:
    sids = {(await provider.send(text(n, body=f"message {n}"))).provider_message_id for n in range(5)}

    assert len(sids) == 5
    assert [sms.body for sms in fake.messages] == [f"message {n}" for n in range(5)]


@pytest.mark.parametrize("status, retryable", [(500, True), (503, True), (429, True), (400, False), (404, False)])
async def test_server_errors_and_throttling_are_retryable_refusals_are_not(
    fake: FakeTwilio, provider: twilio.TwilioProvider, status: int, retryable: bool
) -> None:
    fake.fail(status, 20000 + status, "it went wrong")

    with pytest.raises(ProviderError) as raised:
        await provider.send(text())

    assert raised.value.retryable is retryable
    assert f"HTTP {status}" in str(raised.value) and "it went wrong" in str(raised.value)
    assert fake.messages == []


async def test_a_bad_number_is_not_retryable(fake: FakeTwilio, provider: twilio.TwilioProvider) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider.send(text(to="0800-not-a-number"))

    assert raised.value.retryable is False
    assert "21211" in str(raised.value)


async def test_the_service_recovering_takes_messages_again(fake: FakeTwilio, provider: twilio.TwilioProvider) -> None:
    fake.fail(500)
    with pytest.raises(ProviderError):
        await provider.send(text())

    fake.fail(None)
    await provider.send(text())

    assert len(fake.messages) == 1


async def test_a_hanging_twilio_times_out_retryably_within_the_timeout(
    fake: FakeTwilio, provider: twilio.TwilioProvider
) -> None:
    fake.hang(10)
    started = time.monotonic()

    with pytest.raises(ProviderError) as raised:
        await provider.send(call())

    elapsed = time.monotonic() - started
    assert raised.value.retryable is True
    assert "did not answer within 0.5s" in str(raised.value)
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 1.5
    assert fake.requests == 1


async def refusal(settings: Settings) -> ProviderError:
    """What a provider made from `settings` raises when sending a text."""
    provider = twilio.from_settings(TwilioSettings.of(settings))
    assert provider is not None
    try:
        with pytest.raises(ProviderError) as raised:
            await provider.send(text())
    finally:
        await provider.close()
    return raised.value


async def test_nothing_listening_is_a_retryable_error() -> None:
    error = await refusal(Settings(
        twilio_account_sid="AC" + "0" * 32, twilio_auth_token="secret-token-for-nobody",
        twilio_from_number="+15005550006", twilio_api_url=f"http://127.0.0.1:{free_port()}",
        provider_timeout_s=TIMEOUT_S))

    assert error.retryable is True
    assert "unreachable" in str(error) and "secret-token-for-nobody" not in str(error)


async def test_a_wrong_token_is_refused_for_good(fake: FakeTwilio) -> None:
    error = await refusal(Settings(**{**fake.settings(), "twilio_auth_token": "not-the-token"}))

    assert error.retryable is False
    assert "HTTP 401" in str(error) and "not-the-token" not in str(error)


async def test_the_auth_token_is_in_no_error_and_no_log_line(
    fake: FakeTwilio, provider: twilio.TwilioProvider, caplog: pytest.LogCaptureFixture
) -> None:
    # Twilio's own client logs every request at INFO; lowered to DEBUG, everything it says is seen.
    logging.getLogger("tocsin.actors.providers.twilio.http").setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    try:
        await provider.send(text())
        await provider.send(call())
        fake.fail(400, 21211, f"echoing {fake.auth_token} back")  # a server that repeats the secret
        for outgoing in (text(), call()):
            with pytest.raises(ProviderError) as raised:
                await provider.send(outgoing)
            errors.append(str(raised.value))
        fake.fail(None)
        fake.hang(10)
        with pytest.raises(ProviderError) as raised:
            await provider.send(text())
        errors.append(str(raised.value))
    finally:
        logging.getLogger("tocsin.actors.providers.twilio.http").setLevel(logging.WARNING)

    assert len(errors) == 3 and "echoing" in errors[0]
    logged = [record.getMessage() for record in caplog.records]
    assert any("Messages.json" in line for line in logged)  # the client's request lines were captured
    for line in errors + logged + [repr(provider)]:
        assert fake.auth_token not in line


async def test_close_releases_the_session_and_a_later_send_opens_a_new_one(
    fake: FakeTwilio, provider: twilio.TwilioProvider
) -> None:
    await provider.send(text())
    await provider.close()
    await provider.close()  # twice is harmless

    await provider.send(text())

    assert len(fake.messages) == 2


async def test_a_channel_it_does_not_carry_is_refused(provider: twilio.TwilioProvider) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider.send(Outgoing(1, "email", "alice@example.com", "s", "t"))

    assert raised.value.retryable is False


async def test_twilio_lists_back_the_texts_it_took_with_these_words_reading_page_after_page(
    fake: FakeTwilio, provider: twilio.TwilioProvider
) -> None:
    since = datetime.now(timezone.utc)
    first = await provider.send(text(body="Tocsin #3 checkout: Disk full"))
    for n in range(twilio.PAGE_SIZE + 10):  # newer texts to the same number fill the first page and more
        await provider.send(text(body=f"Tocsin #{n + 10} checkout: something else"))
    await provider.send(text(to="+14155550102", body="Tocsin #3 checkout: Disk full"))  # someone else's
    again = await provider.send(text(body="Tocsin #3 checkout: Disk full"))

    found = await provider.sent_since(text(body="Tocsin #3 checkout: Disk full"), since)

    assert found == [first.provider_message_id, again.provider_message_id]  # oldest first
    assert await provider.sent_since(text(body="Tocsin #4 checkout: never sent"), since) == []


async def test_texts_older_than_asked_are_not_listed(fake: FakeTwilio, provider: twilio.TwilioProvider) -> None:
    await provider.send(text())
    fake.messages[0].received_at -= 3600  # taken an hour ago

    assert await provider.sent_since(text(), datetime.now(timezone.utc) - timedelta(minutes=10)) == []
    assert await provider.sent_since(text(), datetime.now(timezone.utc) - timedelta(hours=2)) == [fake.messages[0].sid]


async def test_twilio_lists_back_the_calls_it_placed_to_a_number(
    fake: FakeTwilio, provider: twilio.TwilioProvider
) -> None:
    since = datetime.now(timezone.utc)
    placed = await provider.send(call())
    await provider.send(call(to="+14155550102"))

    assert await provider.sent_since(call(notification_id=99), since) == [placed.provider_message_id]


async def test_a_list_twilio_cannot_give_is_a_provider_error(fake: FakeTwilio, provider: twilio.TwilioProvider) -> None:
    fake.fail(503, 20503, "Service Unavailable")

    with pytest.raises(ProviderError) as raised:
        await provider.sent_since(text(), datetime.now(timezone.utc))

    assert raised.value.retryable is True and "HTTP 503" in str(raised.value)
