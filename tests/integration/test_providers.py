"""Each provider through its real client library against a real local fake: what arrives,
and how failures are classed. No Ray and no database."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar

import pytest

from tocsin.actors.domain import messages
from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.providers import build
from tocsin.actors.providers.base import Outgoing, Provider, ProviderError
from tocsin.actors.providers.ses import SesProvider
from tocsin.actors.providers.settings import SesSettings, SlackSettings, SmtpSettings, SnsSettings, WebhookSettings
from tocsin.actors.providers.slack import SlackProvider
from tocsin.actors.providers.smtp import SmtpProvider
from tocsin.actors.providers.sns import SnsProvider
from tocsin.actors.providers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookProvider, verify_signature
from tocsin.actors.settings import Settings
from tests.conftest import LOOPBACK_NETWORKS, free_port
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.moto_server import MotoServer
from tests.fakes.smtp_server import SmtpServer, tls_supported

pytestmark = pytest.mark.timeout(60)

ALERT = messages.Alert(incident_id=42, service="checkout", summary="p99 latency over 2s", urgency="high", reply_code=3)
SUBJECT = messages.subject(ALERT)
TEXT = messages.long_text(ALERT, link="https://tocsin.example/incidents/42")
SENDER = "tocsin@example.com"
PHONE = "+15551234567"
SMTP_PASSWORD = "smtp-password-d41d8cd98f00"
SLACK_TOKEN = "xoxb-1111-2222-slacksecrettoken"
SIGNING_SECRET = "whsec-signing-secret-8c1f"
FAST_TIMEOUT_S = 0.5
needs_tls = pytest.mark.skipif(not tls_supported(), reason="STARTTLS fake needs the cryptography package")

P = TypeVar("P", bound=Provider)


REPLY_TO = "reply+abcdefghijklmnopqrstuvwxyz@alerts.tocsin.local"


def outgoing(channel: str, address: str, **fields: Any) -> Outgoing:
    return Outgoing(notification_id=7, channel=channel, address=address, subject=SUBJECT, text=TEXT,
                    incident_id=ALERT.incident_id, **fields)


@asynccontextmanager
async def opened(provider: P) -> AsyncIterator[P]:
    try:
        yield provider
    finally:
        await provider.close()


async def refusal(provider: Provider, message: Outgoing) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await provider.send(message)
    return caught.value


def assert_kept_secret(error: BaseException, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in str(error)
        assert secret not in repr(error.args)
        for record in caplog.records:
            assert secret not in record.getMessage(), record.name


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def aws(moto: MotoServer) -> MotoServer:
    moto.reset()
    return moto


@pytest.fixture
def aws_settings(aws: MotoServer) -> Settings:
    return Settings(sns_endpoint_url=aws.url, ses_endpoint_url=aws.url, ses_from=SENDER, **aws.credentials)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver(hang_limit_s=10) as server:
        yield server


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield int(listener.getsockname()[1])


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# -- SNS -------------------------------------------------------------------------------


async def test_sns_push_reaches_the_platform_endpoint(aws: MotoServer, aws_settings: Settings) -> None:
    endpoint = aws.create_push_endpoint(token="device-1")
    async with opened(SnsProvider(SnsSettings.of(aws_settings))) as sns:
        receipt = await sns.send(outgoing("push", endpoint))

    [published] = aws.push_messages(endpoint)
    assert published["default"] == TEXT
    fcm = json.loads(published["GCM"])["fcmV1Message"]["message"]
    assert fcm["notification"] == {"title": SUBJECT, "body": TEXT}
    assert fcm["data"] == {"notification_id": "7", "incident_id": "42"}
    assert json.loads(published["APNS"])["aps"]["alert"] == {"title": SUBJECT, "body": TEXT}
    assert receipt.provider_message_id


async def test_sns_sms_reaches_the_phone_number(aws: MotoServer, aws_settings: Settings) -> None:
    sms_text = messages.sms(ALERT)
    async with opened(SnsProvider(SnsSettings.of(aws_settings))) as sns:
        receipt = await sns.send(Outgoing(notification_id=8, channel="sms", address=PHONE, subject=SUBJECT,
                                          text=sms_text))

    assert aws.sms_messages() == [(PHONE, sms_text)]
    assert receipt.provider_message_id


async def test_sns_refusals_are_not_retryable(aws: MotoServer, aws_settings: Settings) -> None:
    disabled = aws.create_push_endpoint(token="device-off")
    aws.disable_push_endpoint(disabled)
    unknown = disabled.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    async with opened(SnsProvider(SnsSettings.of(aws_settings))) as sns:
        for message in (
            outgoing("push", unknown),
            outgoing("push", disabled),
            outgoing("push", "not-an-arn"),
            outgoing("sms", "5551234"),
            outgoing("email", "someone@example.com"),
        ):
            error = await refusal(sns, message)
            assert error.retryable is False, (message.address, error)
    assert aws.sms_messages() == []


# -- SES -------------------------------------------------------------------------------


async def test_ses_email_arrives_from_the_configured_sender(aws: MotoServer, aws_settings: Settings) -> None:
    aws.verify_email(SENDER)
    async with opened(SesProvider(SesSettings.of(aws_settings), SENDER)) as ses:
        receipt = await ses.send(outgoing("email", "oncall@example.com"))

    [email] = aws.emails()
    assert (email.source, email.to, email.subject, email.body) == (SENDER, ["oncall@example.com"], SUBJECT, TEXT)
    assert receipt.provider_message_id


async def test_ses_takes_a_page_with_a_reply_address(aws: MotoServer, aws_settings: Settings) -> None:
    """botocore checks the request's fields before sending it: ReplyToAddresses is one of SendEmail's."""
    aws.verify_email(SENDER)
    async with opened(SesProvider(SesSettings.of(aws_settings), SENDER)) as ses:
        receipt = await ses.send(outgoing("email", "oncall@example.com", reply_to=REPLY_TO))
    assert receipt.provider_message_id and [email.to for email in aws.emails()] == [["oncall@example.com"]]


async def test_ses_refusals_are_not_retryable(aws: MotoServer, aws_settings: Settings) -> None:
    async with opened(SesProvider(SesSettings.of(aws_settings), SENDER)) as ses:
        unverified = await refusal(ses, outgoing("email", "oncall@example.com"))
        aws.verify_email(SENDER)
        malformed = await refusal(ses, outgoing("email", "oncall@example.com\r\nBcc: everyone@example.com"))

    assert unverified.retryable is False and "MessageRejected" in str(unverified)
    assert malformed.retryable is False
    assert aws.emails() == []


# -- AWS failures, through a receiver standing in for the endpoint ----------------------

THROTTLED = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
             b"</Error><RequestId>r-1</RequestId></ErrorResponse>")
INVALID = (b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Bad</Message>"
           b"</Error><RequestId>r-2</RequestId></ErrorResponse>")


def aws_providers(settings: Settings) -> list[tuple[Provider, Outgoing]]:
    return [(SnsProvider(SnsSettings.of(settings)), outgoing("sms", PHONE)),
            (SesProvider(SesSettings.of(settings), SENDER), outgoing("email", "a@example.com"))]


@pytest.mark.parametrize(("status", "body", "retryable"), [
    (500, b"oops", True),
    (503, b"<ErrorResponse><Error><Code>ServiceUnavailable</Code></Error></ErrorResponse>", True),
    (429, b"slow down", True),
    (400, THROTTLED, True),
    (400, INVALID, False),
    (403, b"<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>", False),
])
async def test_aws_answers_are_classed(receiver: HttpReceiver, debug_log: pytest.LogCaptureFixture,
                                       status: int, body: bytes, retryable: bool) -> None:
    receiver.respond(status, body, headers={"Content-Type": "text/xml"})
    settings = Settings(sns_endpoint_url=receiver.url, ses_endpoint_url=receiver.url, aws_access_key_id="AKIATEST",
                        aws_secret_access_key="aws-secret-key-9f86d081")
    for provider, message in aws_providers(settings):
        async with opened(provider):
            error = await refusal(provider, message)
        assert error.retryable is retryable, (provider.name, error)
        assert_kept_secret(error, debug_log, "aws-secret-key-9f86d081")
    assert len(receiver.requests) == 2  # one attempt each: retrying is the ChannelActor's


async def test_aws_silence_and_refused_connections_are_retryable(receiver: HttpReceiver) -> None:
    receiver.hang()
    for url in (receiver.url, f"http://127.0.0.1:{free_port()}"):
        settings = Settings(sns_endpoint_url=url, ses_endpoint_url=url, aws_access_key_id="AKIATEST",
                            aws_secret_access_key="x", provider_timeout_s=FAST_TIMEOUT_S)
        for provider, message in aws_providers(settings):
            async with opened(provider):
                error = await refusal(provider, message)
            assert error.retryable is True, (url, provider.name, error)


# -- SMTP ------------------------------------------------------------------------------


def smtp_settings(relay: SmtpServer | None = None, *, port: int | None = None, username: str | None = None,
                  password: str | None = None, timeout_s: float = 5.0) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port or (relay.port if relay else 25), smtp_from=SENDER,
                    smtp_username=username, smtp_password=password, provider_timeout_s=timeout_s)


def assert_is_the_alert(mail: Any, to: str) -> None:
    assert mail.rcpt_tos == [to]
    assert mail.mail_from == SENDER
    assert mail.message["From"] == SENDER
    assert mail.message["To"] == to
    assert mail.message["Subject"] == SUBJECT
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content().rstrip("\n") == TEXT


async def test_smtp_without_starttls_or_login() -> None:
    with SmtpServer() as relay:
        async with opened(SmtpProvider(SmtpSettings.of(smtp_settings(relay)), "127.0.0.1", SENDER)) as smtp:
            receipt = await smtp.send(outgoing("email", "oncall@example.com"))
        [mail] = relay.messages
    assert_is_the_alert(mail, "oncall@example.com")
    assert (mail.tls, mail.login) == (False, None)
    assert receipt.provider_message_id == mail.message["Message-ID"]


async def test_smtp_sets_the_reply_address_of_a_page() -> None:
    with SmtpServer() as relay:
        async with opened(SmtpProvider(SmtpSettings.of(smtp_settings(relay)), "127.0.0.1", SENDER)) as smtp:
            await smtp.send(outgoing("email", "oncall@example.com"))
            await smtp.send(outgoing("email", "oncall@example.com", reply_to=REPLY_TO))
        plain, answerable = relay.messages
    assert plain.message["Reply-To"] is None and answerable.message["Reply-To"] == REPLY_TO


async def test_smtp_logs_in_without_tls_when_the_relay_allows_it() -> None:
    with SmtpServer(username="tocsin", password=SMTP_PASSWORD) as relay:
        settings = smtp_settings(relay, username="tocsin", password=SMTP_PASSWORD)
        async with opened(SmtpProvider(SmtpSettings.of(settings), "127.0.0.1", SENDER)) as smtp:
            await smtp.send(outgoing("email", "oncall@example.com"))
        [mail] = relay.messages
    assert (mail.tls, mail.login) == (False, "tocsin")


@needs_tls
async def test_smtp_upgrades_with_starttls_when_offered_and_logs_in() -> None:
    with SmtpServer(starttls=True, username="tocsin", password=SMTP_PASSWORD) as relay:
        settings = smtp_settings(relay, username="tocsin", password=SMTP_PASSWORD)
        async with opened(SmtpProvider(SmtpSettings.of(settings), "127.0.0.1", SENDER, tls_context=relay.client_tls_context())) as smtp:
            await smtp.send(outgoing("email", "oncall@example.com"))
        [mail] = relay.messages
    assert_is_the_alert(mail, "oncall@example.com")
    assert (mail.tls, mail.login) == (True, "tocsin")


@needs_tls
async def test_smtp_does_not_send_to_a_relay_it_cannot_trust() -> None:
    with SmtpServer(starttls=True) as relay:
        async with opened(SmtpProvider(SmtpSettings.of(smtp_settings(relay)), "127.0.0.1", SENDER)) as smtp:
            await refusal(smtp, outgoing("email", "oncall@example.com"))
        assert relay.messages == []


async def test_smtp_wrong_password_is_not_retryable_and_stays_secret(debug_log: pytest.LogCaptureFixture) -> None:
    with SmtpServer(username="tocsin", password="the-right-one") as relay:
        settings = smtp_settings(relay, username="tocsin", password=SMTP_PASSWORD)
        async with opened(SmtpProvider(SmtpSettings.of(settings), "127.0.0.1", SENDER)) as smtp:
            error = await refusal(smtp, outgoing("email", "oncall@example.com"))
        assert relay.messages == []
    assert error.retryable is False
    assert_kept_secret(error, debug_log, SMTP_PASSWORD)


@pytest.mark.parametrize(("reply", "retryable"), [
    ("451 4.3.0 Try again later", True),
    ("452 4.2.2 Mailbox full", True),
    ("550 5.1.1 No such user", False),
])
async def test_smtp_replies_are_read_the_smtp_way(reply: str, retryable: bool) -> None:
    with SmtpServer() as relay:
        relay.refuse(reply)
        async with opened(SmtpProvider(SmtpSettings.of(smtp_settings(relay)), "127.0.0.1", SENDER)) as smtp:
            error = await refusal(smtp, outgoing("email", "oncall@example.com"))
    assert error.retryable is retryable, error


async def test_smtp_silence_and_refused_connections_are_retryable(silent_port: int) -> None:
    for port in (silent_port, free_port()):
        settings = smtp_settings(port=port, timeout_s=FAST_TIMEOUT_S)
        async with opened(SmtpProvider(SmtpSettings.of(settings), "127.0.0.1", SENDER)) as smtp:
            error = await refusal(smtp, outgoing("email", "oncall@example.com"))
        assert error.retryable is True, (port, error)


async def test_smtp_refuses_an_address_that_is_not_one_mailbox() -> None:
    async with opened(SmtpProvider(SmtpSettings.of(smtp_settings(port=free_port())), "127.0.0.1", SENDER)) as smtp:
        for address in ("nobody", "a@example.com, b@example.com", "a@example.com\nBcc: b@example.com"):
            assert (await refusal(smtp, outgoing("email", address))).retryable is False


# -- Slack -----------------------------------------------------------------------------


def slack_settings(receiver: HttpReceiver, *, token: str | None = SLACK_TOKEN, timeout_s: float = 5.0) -> Settings:
    return Settings(slack_api_url=f"{receiver.url}/api", slack_bot_token=token, provider_timeout_s=timeout_s,
                    allow_private_destinations=LOOPBACK_NETWORKS)


async def test_slack_incoming_webhook(receiver: HttpReceiver, debug_log: pytest.LogCaptureFixture) -> None:
    hook = f"{receiver.url}/services/T000/B000/hook-path-secret"
    async with opened(SlackProvider(SlackSettings.of(slack_settings(receiver)))) as slack:
        await slack.send(outgoing("slack", hook))

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/services/T000/B000/hook-path-secret")
    assert request.json() == {"text": TEXT}
    assert "authorization" not in request.headers
    for record in debug_log.records:
        assert "hook-path-secret" not in record.getMessage(), record.name


async def test_slack_chat_post_message(receiver: HttpReceiver, debug_log: pytest.LogCaptureFixture) -> None:
    receiver.respond(200, {"ok": True, "channel": "C0123ABCD", "ts": "1767225600.000100"}, path="/api/chat.postMessage")
    async with opened(SlackProvider(SlackSettings.of(slack_settings(receiver)))) as slack:
        receipt = await slack.send(outgoing("slack", "C0123ABCD"))

    [request] = receiver.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.json() == {"channel": "C0123ABCD", "text": TEXT}
    assert receipt.provider_message_id == "C0123ABCD:1767225600.000100"  # what chat.update needs
    for record in debug_log.records:
        assert SLACK_TOKEN not in record.getMessage(), record.name


@pytest.mark.parametrize(("error", "retryable"), [
    ("channel_not_found", False),
    ("invalid_auth", False),
    ("not_in_channel", False),
    ("ratelimited", True),
    ("internal_error", True),
])
async def test_slack_ok_false(receiver: HttpReceiver, debug_log: pytest.LogCaptureFixture, error: str,
                              retryable: bool) -> None:
    receiver.respond(200, {"ok": False, "error": error}, path="/api/chat.postMessage")
    async with opened(SlackProvider(SlackSettings.of(slack_settings(receiver)))) as slack:
        refused = await refusal(slack, outgoing("slack", "C0123ABCD"))
    assert refused.retryable is retryable
    assert error in str(refused)
    assert_kept_secret(refused, debug_log, SLACK_TOKEN)


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True), (400, False),
                                                   (403, False), (404, False), (410, False)])
async def test_slack_http_status(receiver: HttpReceiver, debug_log: pytest.LogCaptureFixture, status: int,
                                 retryable: bool) -> None:
    receiver.respond(status, "invalid_payload" if status == 400 else "nope")
    async with opened(SlackProvider(SlackSettings.of(slack_settings(receiver)))) as slack:
        for address in (f"{receiver.url}/services/T000/B000/hook-path-secret", "C0123ABCD"):
            refused = await refusal(slack, outgoing("slack", address))
            assert refused.retryable is retryable, (address, refused)
            assert_kept_secret(refused, debug_log, SLACK_TOKEN, "hook-path-secret")


async def test_slack_addresses_it_cannot_use(receiver: HttpReceiver) -> None:
    async with opened(SlackProvider(SlackSettings.of(slack_settings(receiver, token=None)))) as slack:
        for address in ("C0123ABCD", "#general", "http://hooks.slack.example/services/x", "ftp://127.0.0.1/x"):
            assert (await refusal(slack, outgoing("slack", address))).retryable is False, address
    assert receiver.requests == []


async def test_slack_silence_is_a_retryable_timeout(receiver: HttpReceiver) -> None:
    receiver.hang()
    async with opened(SlackProvider(SlackSettings.of(slack_settings(receiver, timeout_s=FAST_TIMEOUT_S)))) as slack:
        for address in (f"{receiver.url}/services/T/B/x", "C0123ABCD"):
            refused = await refusal(slack, outgoing("slack", address))
            assert refused.retryable is True and "in time" in str(refused)


# -- Outbound webhooks -----------------------------------------------------------------

SENT_AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def webhook(receiver: HttpReceiver, *, secret: str | None = SIGNING_SECRET, timeout_s: float = 5.0) -> WebhookProvider:
    settings = Settings(webhook_signing_secret=secret, provider_timeout_s=timeout_s,
                        allow_private_destinations=LOOPBACK_NETWORKS)
    return WebhookProvider(WebhookSettings.of(settings), clock=FakeClock(SENT_AT))


async def test_webhook_is_signed_and_verifies(receiver: HttpReceiver, debug_log: pytest.LogCaptureFixture) -> None:
    async with opened(webhook(receiver)) as provider:
        await provider.send(outgoing("webhook", f"{receiver.url}/hooks/tocsin?team=sre"))

    [request] = receiver.requests
    assert (request.path, request.query) == ("/hooks/tocsin", "team=sre")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"notification_id": 7, "incident_id": 42, "subject": SUBJECT, "text": TEXT,
                              "sent_at": "2026-03-01T12:00:00+00:00"}
    timestamp = request.headers[TIMESTAMP_HEADER.lower()]
    signature = request.headers[SIGNATURE_HEADER.lower()]
    assert timestamp == str(int(SENT_AT.timestamp()))
    assert signature.startswith("v1=")
    assert verify_signature(SIGNING_SECRET, timestamp, request.body, signature, now=SENT_AT)
    assert not verify_signature(SIGNING_SECRET, timestamp, request.body.replace(b"42", b"43"), signature, now=SENT_AT)
    assert not verify_signature("another-secret", timestamp, request.body, signature, now=SENT_AT)
    assert not verify_signature(SIGNING_SECRET, timestamp, request.body, signature, now=SENT_AT.timestamp() + 301)
    for record in debug_log.records:
        assert SIGNING_SECRET not in record.getMessage(), record.name


async def test_webhook_without_a_secret_goes_unsigned(receiver: HttpReceiver) -> None:
    async with opened(webhook(receiver, secret=None)) as provider:
        await provider.send(outgoing("webhook", f"{receiver.url}/hook"))
    [request] = receiver.requests
    assert SIGNATURE_HEADER.lower() not in request.headers
    assert request.json()["subject"] == SUBJECT


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (502, True), (429, True), (408, True),
                                                   (400, False), (401, False), (404, False), (301, False)])
async def test_webhook_http_status(receiver: HttpReceiver, debug_log: pytest.LogCaptureFixture, status: int,
                                   retryable: bool) -> None:
    receiver.respond(status, "no", headers={"Location": "http://127.0.0.1:9/elsewhere"} if status == 301 else None)
    async with opened(webhook(receiver)) as provider:
        refused = await refusal(provider, outgoing("webhook", f"{receiver.url}/hook?token=query-secret"))
    assert refused.retryable is retryable, refused
    assert str(status) in str(refused)
    assert_kept_secret(refused, debug_log, SIGNING_SECRET, "query-secret")


async def test_webhook_silence_and_refused_connections_are_retryable(receiver: HttpReceiver) -> None:
    receiver.hang()
    async with opened(webhook(receiver, timeout_s=FAST_TIMEOUT_S)) as provider:
        for url in (f"{receiver.url}/hook", f"http://127.0.0.1:{free_port()}/hook"):
            assert (await refusal(provider, outgoing("webhook", url))).retryable is True, url


async def test_webhook_addresses_it_cannot_use(receiver: HttpReceiver) -> None:
    async with opened(webhook(receiver)) as provider:
        for address in ("not a url", "ftp://127.0.0.1/hook", "mailto:oncall@example.com", "https://"):
            assert (await refusal(provider, outgoing("webhook", address))).retryable is False, address


# -- The registry ----------------------------------------------------------------------


async def test_registry_builds_the_configured_providers(aws: MotoServer) -> None:
    bare = build(Settings(), ["sns", "ses", "smtp", "slack", "webhook"])
    assert [p.name for p in bare] == ["slack", "webhook"]  # these need no settings
    full = build(Settings(sns_endpoint_url=aws.url, ses_from=SENDER, smtp_host="127.0.0.1", smtp_from=SENDER,
                          **aws.credentials), ["sns", "ses", "smtp"])
    assert [(p.name, sorted(p.channels)) for p in full] == [("sns", ["push", "sms"]), ("ses", ["email"]),
                                                           ("smtp", ["email"])]
    for provider in [*bare, *full]:
        await provider.close()
