"""A Twilio outage, with the real clients: Twilio's against a Twilio-compatible fake, boto3's
against moto's SNS. Twilio answers 500, then hangs past its timeout: its breaker opens, the
texts go out through SNS, nothing is lost or sent twice; Twilio recovers, a probe closes it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tocsin.actors.channel import ChannelActor
from tocsin.actors.domain.breaker import BreakerRules
from tocsin.actors.domain.retry import RetryRules
from tocsin.actors.settings import Settings
from tests.conftest import statement_runner
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.moto_server import MotoServer
from tests.fakes.twilio_server import FakeTwilio
from tests.integration.outbox_rows import Desk

NUMBER = "+14155550177"
COOL_DOWN_S = 1.0


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def aws() -> Iterator[MotoServer]:
    with MotoServer() as moto:
        yield moto


@pytest.fixture
def sms(twilio: FakeTwilio, aws: MotoServer, own_database: str) -> Iterator[ChannelActor]:
    settings = Settings(**twilio.settings(), **aws.credentials, sns_endpoint_url=aws.url, providers_sms="twilio,sns",
                        rate_twilio_per_s=100, rate_sns_per_s=100, provider_timeout_s=1.0, throttle_messages=100)
    actor = ChannelActor("sms", settings, own_database, breaker=BreakerRules(max_consecutive=3, cooldown_s=COOL_DOWN_S),
                         background=False)
    yield actor  # the test closes it, on its own event loop


async def send_one(actor: ChannelActor, desk: Desk) -> int:
    notification = desk.page()
    await actor.run_once()
    return notification


async def test_twilio_outage_fails_over_to_sns_and_a_probe_brings_twilio_back(
    sms: ChannelActor, twilio: FakeTwilio, aws: MotoServer, own_database: str
) -> None:
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    twilio.fail(500)
    during_errors = [await send_one(sms, desk) for _ in range(4)]
    assert [desk.attempts(n) for n in during_errors] == [
        [("twilio", "failed"), ("sns", "sent")]] * 3 + [[("twilio", "circuit_open"), ("sns", "sent")]]
    assert (await sms.stats())["providers"][0]["state"] == "open"

    twilio.fail(None)
    twilio.hang(5)
    await asyncio.sleep(COOL_DOWN_S + 0.1)
    during_hang = await send_one(sms, desk)  # the probe meets the hang: a timeout, and open again
    assert desk.attempts(during_hang) == [("twilio", "timeout"), ("sns", "sent")]
    assert (await sms.stats())["providers"][0]["state"] == "open"

    twilio.hang(0)
    await asyncio.sleep(COOL_DOWN_S + 0.1)
    recovered = [await send_one(sms, desk) for _ in range(2)]
    assert [desk.attempts(n) for n in recovered] == [[("twilio", "sent")]] * 2
    assert (await sms.stats())["providers"][0]["state"] == "closed"

    everything = during_errors + [during_hang] + recovered
    assert all(desk.row(n)["status"] == "sent" for n in everything)
    via_sns = [body for number, body in aws.sms_messages() if number == NUMBER]
    assert len(via_sns) == 5 and len(twilio.texts_to(NUMBER)) == 2  # each text once, none lost
    assert {desk.row(n)["provider"] for n in during_errors + [during_hang]} == {"sns"}
    await sms.close()


async def test_an_answer_the_twilio_client_cannot_read_is_a_failed_try_then_sns_then_dead_with_the_error(
    aws: MotoServer, own_database: str
) -> None:
    """Something in Twilio's place answers 201 with a page that is not JSON: the twilio client
    raises its JSON decoder's ValueError, no ProviderError. The text goes out through SNS; with
    Twilio alone, the row is tried again and is dead with that error, never left "sending"."""
    desk = Desk(statement_runner(own_database), "sms", NUMBER)
    with HttpReceiver() as in_the_way:
        in_the_way.respond(201, "<html>Welcome to the hotel Wi-Fi</html>", headers={"Content-Type": "text/html"})
        twilio = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "t" * 32,
                  "twilio_from_number": "+15005550006", "twilio_api_url": in_the_way.url}
        both = Settings(**twilio, **aws.credentials, sns_endpoint_url=aws.url, providers_sms="twilio,sns",
                        rate_twilio_per_s=100, rate_sns_per_s=100, throttle_messages=100)
        actor = ChannelActor("sms", both, own_database, background=False)
        failed_over = await send_one(actor, desk)
        await actor.close()

        alone = Settings(**twilio, providers_sms="twilio", rate_twilio_per_s=100, throttle_messages=100)
        actor = ChannelActor("sms", alone, own_database, retry=RetryRules(base_s=0.05, cap_s=0.1, max_attempts=2),
                             background=False)
        dead = await send_one(actor, desk)
        for _ in range(30):
            if desk.row(dead)["status"] != "pending":
                break
            await asyncio.sleep(0.1)
            await actor.run_once()
        await actor.close()

    assert desk.attempts(failed_over) == [("twilio", "failed"), ("sns", "sent")]
    assert desk.row(failed_over)["status"] == "sent"
    row = desk.row(dead)
    assert (row["status"], row["attempts"]) == ("dead", 2)
    assert row["last_error"].startswith("twilio: JSONDecodeError: ")
    assert desk.attempts(dead) == [("twilio", "failed")] * 2
