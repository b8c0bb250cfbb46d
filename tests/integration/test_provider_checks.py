"""Each provider asked whether it takes Tocsin's credentials (`check`, as `tocsin doctor`
asks), through its real client library against a real local fake: what it answers when the
credentials are good, that a refusal is a `ProviderError` naming it without the secret, and
that nothing was sent to anyone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tocsin.actors.providers import make
from tocsin.actors.providers.base import Checkable, ProviderError
from tocsin.actors.settings import Settings
from tests.conftest import LOOPBACK_NETWORKS, free_port
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.moto_server import MotoServer
from tests.fakes.slack_api import FakeSlack
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.twilio_server import FakeTwilio

pytestmark = pytest.mark.timeout(60)

SENDER = "tocsin@example.com"
SMTP_PASSWORD = "smtp-password-5e884898da28"
AWS_SECRET = "aws-secret-key-2c26b46b68ff"
DENIED = (b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
          b"<Message>The security token included in the request is invalid.</Message></Error>"
          b"<RequestId>r-1</RequestId></ErrorResponse>")


async def checked(name: str, settings: Settings) -> str:
    provider = make(name, settings)
    assert isinstance(provider, Checkable), name
    try:
        return await provider.check()
    finally:
        await provider.close()  # type: ignore[attr-defined]


async def refused(name: str, settings: Settings) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await checked(name, settings)
    return caught.value


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


async def test_twilio_names_the_account_its_credentials_open(twilio: FakeTwilio) -> None:
    found = await checked("twilio", Settings(**twilio.settings()))

    assert twilio.account_sid in found and "active" in found
    assert twilio.received == []  # nothing sent


async def test_twilio_refusing_the_credentials_is_a_lasting_refusal(twilio: FakeTwilio) -> None:
    error = await refused("twilio", Settings(**{**twilio.settings(), "twilio_auth_token": "not-the-token"}))

    assert "HTTP 401" in str(error) and error.retryable is False
    assert "not-the-token" not in str(error)


async def test_twilio_not_answering_is_said_so() -> None:
    settings = Settings(twilio_account_sid="AC" + "0" * 32, twilio_auth_token="t", twilio_from_number="+15005550006",
                        twilio_api_url=f"http://127.0.0.1:{free_port()}", provider_timeout_s=1)
    assert "unreachable" in str(await refused("twilio", settings))


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


async def test_ses_and_sns_answer_with_the_account(aws: MotoServer) -> None:
    settings = Settings(sns_endpoint_url=aws.url, ses_endpoint_url=aws.url, ses_from=SENDER, **aws.credentials)

    assert "quota" in await checked("ses", settings)
    assert "answers" in await checked("sns", settings)
    assert aws.emails() == [] and aws.sms_messages() == []


async def test_aws_refusing_the_keys_names_the_error_and_keeps_the_secret() -> None:
    with HttpReceiver() as endpoint:
        endpoint.respond(403, DENIED, headers={"Content-Type": "text/xml"})
        settings = Settings(sns_endpoint_url=endpoint.url, ses_endpoint_url=endpoint.url, ses_from=SENDER,
                            aws_access_key_id="AKIATEST", aws_secret_access_key=AWS_SECRET)
        for name in ("ses", "sns"):
            error = await refused(name, settings)
            assert "InvalidClientTokenId" in str(error) and "HTTP 403" in str(error), name
            assert AWS_SECRET not in str(error)


def smtp_settings(port: int, username: str | None = None, password: str | None = None) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from=SENDER, smtp_username=username,
                    smtp_password=password, provider_timeout_s=5)


async def test_smtp_greets_and_logs_in_without_sending() -> None:
    with SmtpServer(username="tocsin", password=SMTP_PASSWORD) as relay:
        found = await checked("smtp", smtp_settings(relay.port, "tocsin", SMTP_PASSWORD))
        assert relay.messages == []
    assert "EHLO" in found and "logged in as tocsin" in found


async def test_smtp_refusing_the_login_is_a_lasting_refusal() -> None:
    with SmtpServer(username="tocsin", password="the-right-one") as relay:
        error = await refused("smtp", smtp_settings(relay.port, "tocsin", SMTP_PASSWORD))
    assert "login refused" in str(error) and error.retryable is False
    assert SMTP_PASSWORD not in str(error)


async def test_smtp_nothing_listening_is_said_so() -> None:
    error = await refused("smtp", smtp_settings(free_port()))
    assert "SMTPConnectError" in str(error) and error.retryable is True


def slack_settings(slack: FakeSlack, token: str) -> Settings:
    return Settings(slack_bot_token=token, slack_api_url=slack.api_url, allow_private_destinations=LOOPBACK_NETWORKS)


async def test_slack_names_the_bot_its_token_belongs_to() -> None:
    with FakeSlack() as slack:
        found = await checked("slack", slack_settings(slack, slack.token))
        assert [call.method for call in slack.calls] == ["auth.test"]
    assert "bot tocsin" in found


async def test_slack_refusing_the_token_is_said_so() -> None:
    with FakeSlack() as slack:
        error = await refused("slack", slack_settings(slack, "xoxb-not-the-token"))
    assert "invalid_auth" in str(error) and "xoxb-not-the-token" not in str(error)


async def test_slack_without_a_bot_token_has_nothing_to_ask() -> None:
    assert "no bot token" in await checked("slack", Settings())
