"""Alert text as senders write it, paged through every provider: summaries holding line
breaks, CR LF and a header after them, NUL and other control characters, 10 KB, right-to-left
overrides and emoji. Each page is sent (never left "sending"), and what arrives, read at the
fake's end through the real client library, is one message to the one address, with a
subject on one line and nothing injected.

The ChannelActor runs against real Postgres with each provider's real client and its fake:
aiosmtpd for SMTP, moto for SES and SNS, a Twilio-compatible server, an HTTP receiver for
Slack and webhooks. Postgres holds no NUL, so NUL is sent through each provider directly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tocsin.actors.channel import ChannelActor
from tocsin.actors.domain import messages
from tocsin.actors.providers import build
from tocsin.actors.providers.base import Outgoing
from tocsin.actors.settings import Settings
from tests.conftest import LOOPBACK_NETWORKS, statement_runner
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.moto_server import MotoServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.twilio_server import FakeTwilio
from tests.integration.outbox_rows import Desk

pytestmark = pytest.mark.timeout(120)

SENDER = "tocsin@example.com"
VICTIM = "victim@example.com"
SLACK_TOKEN = "xoxb-1111-2222-oddtexttoken"
RLO = "\u202e"
LONG = "cpu hot " * 1280  # 10 KB
# Each summary, and words of it that must arrive (at the start, so that an SMS keeps them).
ODD_SUMMARIES = {
    "newlines": ("Disk full\non db-1\n\nsee the runbook", "Disk full"),
    "crlf header": (f"Replica lag\r\nBcc: {VICTIM}\r\nX-Injected: yes", "Replica lag"),
    "control characters": ("Queue\x01stuck \x1b[31mred\x1b[0m\x07", "stuck"),
    "10 KB": (LONG, "cpu hot cpu hot"),
    "right to left": (f"{RLO}הדיסק מלא القرص ممتلئ", "הדיסק מלא"),
    "emoji": ("🔥 Checkout down 👩‍💻 🇳🇱", "🔥 Checkout down 👩‍💻"),
}
NUL_SUMMARY = (f"Disk\x00full\r\nBcc: {VICTIM}", "full")
UNSHOWABLE = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} - {"\n", "\t"}
LINE_BREAKS = set("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True)
class Arrived:
    """One message as the fake received it."""

    to: list[str]
    subject: str | None  # None: the channel has no subject
    text: str | None  # None: the words are fetched later (a call's TwiML)
    headers: dict[str, str]


@dataclass
class Rig:
    """One provider of one channel, its settings pointing at its fake, and what arrived there."""

    channel: str
    provider: str
    address: str
    settings: Settings
    arrived: Callable[[], list[Arrived]]


@dataclass(frozen=True)
class Fakes:
    relay: SmtpServer
    moto: MotoServer
    twilio: FakeTwilio
    receiver: HttpReceiver


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with (SmtpServer() as relay, MotoServer() as moto, FakeTwilio() as twilio,
          HttpReceiver(hang_limit_s=5) as receiver):
        yield Fakes(relay, moto, twilio, receiver)


def common(**fields: Any) -> Settings:
    """No throttle and no provider's pace in the way of a handful of pages."""
    return Settings(throttle_messages=1000, provider_timeout_s=10, public_url="https://tocsin.example",
                    rate_twilio_per_s=1000, rate_sns_per_s=1000, rate_ses_per_s=1000, rate_smtp_per_s=1000,
                    rate_slack_per_s=1000, rate_webhook_per_s=1000, allow_private_destinations=LOOPBACK_NETWORKS,
                    **fields)


def smtp_rig(relay: SmtpServer) -> Rig:
    relay.messages.clear()
    address = "oncall@example.com"
    return Rig("email", "smtp", address,
               common(smtp_host=relay.host, smtp_port=relay.port, smtp_from=SENDER, providers_email="smtp"),
               lambda: [Arrived(m.rcpt_tos, m.message["Subject"], m.message.get_content(), dict(m.message.items()))
                        for m in relay.messages])


def ses_rig(moto: MotoServer) -> Rig:
    moto.reset()
    moto.verify_email(SENDER)
    return Rig("email", "ses", "oncall@example.com",
               common(ses_endpoint_url=moto.url, ses_from=SENDER, providers_email="ses", **moto.credentials),
               lambda: [Arrived(e.to, e.subject, e.body, {}) for e in moto.emails()])


def sns_sms_rig(moto: MotoServer) -> Rig:
    moto.reset()
    return Rig("sms", "sns", "+15551234567",
               common(sns_endpoint_url=moto.url, providers_sms="sns", **moto.credentials),
               lambda: [Arrived([number], None, text, {}) for number, text in moto.sms_messages()])


def sns_push_rig(moto: MotoServer) -> Rig:
    moto.reset()
    endpoint = moto.create_push_endpoint(token="device-odd")

    def arrived() -> list[Arrived]:
        found = []
        for published in moto.push_messages(endpoint):
            shown = json.loads(published["GCM"])["fcmV1Message"]["message"]["notification"]
            found.append(Arrived([endpoint], shown["title"], shown["body"], {}))
        return found

    return Rig("push", "sns", endpoint, common(sns_endpoint_url=moto.url, providers_push="sns", **moto.credentials),
               arrived)


def twilio_rig(twilio: FakeTwilio, channel: str) -> Rig:
    twilio.clear()
    settings = common(**twilio.settings(), **{f"providers_{channel}": "twilio"})
    if channel == "sms":
        return Rig("sms", "twilio", "+15557654321", settings,
                   lambda: [Arrived([m.to], None, m.body, {}) for m in twilio.messages])
    return Rig("voice", "twilio", "+15557654322", settings,
               lambda: [Arrived([c.to], None, None, {}) for c in twilio.calls])


def http_rig(receiver: HttpReceiver, channel: str, address: str, **fields: Any) -> Rig:
    receiver.reset()
    receiver.respond(200, {"ok": True, "ts": "1767225600.000100"}, path="/api/chat.postMessage")

    def arrived() -> list[Arrived]:
        found = []
        for request in receiver.requests:
            sent = request.json()
            to = sent.get("channel") or receiver.url + request.path
            found.append(Arrived([to], sent.get("subject"), sent["text"], {}))
        return found

    return Rig(channel, channel, address, common(**fields), arrived)


RIGS: dict[str, Callable[[Fakes], Rig]] = {
    "smtp": lambda f: smtp_rig(f.relay),
    "ses": lambda f: ses_rig(f.moto),
    "sns sms": lambda f: sns_sms_rig(f.moto),
    "sns push": lambda f: sns_push_rig(f.moto),
    "twilio sms": lambda f: twilio_rig(f.twilio, "sms"),
    "twilio voice": lambda f: twilio_rig(f.twilio, "voice"),
    "slack webhook": lambda f: http_rig(f.receiver, "slack", f"{f.receiver.url}/services/T0/B0/odd"),
    "slack api": lambda f: http_rig(f.receiver, "slack", "C0123ABCD", slack_api_url=f"{f.receiver.url}/api",
                                    slack_bot_token=SLACK_TOKEN),
    "webhook": lambda f: http_rig(f.receiver, "webhook", f"{f.receiver.url}/hook"),
}


@pytest.fixture(params=list(RIGS))
def rig(request: pytest.FixtureRequest, fakes: Fakes) -> Rig:
    return RIGS[request.param](fakes)


def assert_safe(arrived: list[Arrived], rig: Rig, words: list[str]) -> None:
    """One message per page, to the one address, a one-line subject, nothing injected, and
    each summary's words there."""
    assert len(arrived) == len(words), arrived
    for message in arrived:
        assert message.to == [rig.address]
        assert VICTIM not in message.to
        assert not {name.lower() for name in message.headers} & {"bcc", "x-injected"}, message.headers
        if message.subject is not None:
            assert not set(message.subject) & (LINE_BREAKS | UNSHOWABLE), repr(message.subject)
            assert len(message.subject) <= messages.SUBJECT_LIMIT + 1
        if message.text is not None:
            assert not set(message.text) & UNSHOWABLE, repr(message.text[:200])
    texts = [m.text for m in arrived if m.text is not None]
    for expected in words if texts else []:
        assert any(expected in text for text in texts), (expected, [t[:80] for t in texts])


async def page_once(rig: Rig, database: str, *summaries: str) -> tuple[Desk, list[int]]:
    """Page the rig's address once per summary and run the channel's actor once: the rows."""
    desk = Desk(statement_runner(database), rig.channel, rig.address)
    pages = [desk.page(desk.incident(summary)) for summary in summaries]
    actor = ChannelActor(rig.channel, rig.settings, database, background=False)
    try:
        await actor.run_once()
    finally:
        await actor.close()
    return desk, pages


async def test_every_provider_sends_odd_summaries_and_no_page_is_left_sending(rig: Rig, own_database: str) -> None:
    desk, sent = await page_once(rig, own_database, *(summary for summary, _ in ODD_SUMMARIES.values()))
    pages = dict(zip(ODD_SUMMARIES, sent))

    rows = {name: desk.row(notification) for name, notification in pages.items()}
    assert {name: (row["status"], row["last_error"]) for name, row in rows.items()} == {
        name: ("sent", None) for name in pages}
    assert all(desk.attempts(n) == [(rig.provider, "sent")] for n in pages.values())
    arrived = rig.arrived()
    assert_safe(arrived, rig, [words for _, words in ODD_SUMMARIES.values()])
    if rig.channel in ("email", "slack", "webhook"):  # the whole summary, where its length costs nothing
        assert any(m.text is not None and LONG.strip() in m.text for m in arrived)


async def test_every_provider_sends_nul_and_a_crlf_subject_as_one_safe_line(rig: Rig) -> None:
    summary, words = NUL_SUMMARY
    [provider] = build(rig.settings, [rig.provider])
    message = Outgoing(notification_id=7, channel=rig.channel, address=rig.address,
                       subject=f"Tocsin #42 [checkout] {summary}", text=f"Summary: {summary}", incident_id=42)
    try:
        receipt = await provider.send(message)
    finally:
        await provider.close()

    assert receipt is not None
    assert_safe(rig.arrived(), rig, [words])


async def test_an_email_page_whose_summary_holds_a_newline_is_sent_not_left_sending(
    fakes: Fakes, own_database: str
) -> None:
    """Alertmanager summaries often hold a newline: the mail's subject is built from it. It
    used to raise as the subject was set, leaving the row "sending", claimed again and again."""
    desk, [notification] = await page_once(smtp_rig(fakes.relay), own_database, "High error rate\non checkout-api")

    row = desk.row(notification)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)
    [mail] = fakes.relay.messages
    assert mail.message["Subject"] == f"Tocsin #{row['incident_id']} [checkout-api] High error rate on checkout-api"
    assert "Summary: High error rate\non checkout-api" in mail.message.get_content()


@pytest.mark.parametrize("address", ["webhook", "C0123ABCD"])
async def test_markup_in_a_summary_reaches_slack_escaped(fakes: Fakes, own_database: str, address: str) -> None:
    receiver = fakes.receiver
    hook = f"{receiver.url}/services/T0/B0/odd"
    rig = http_rig(receiver, "slack", hook if address == "webhook" else address,
                   slack_api_url=f"{receiver.url}/api", slack_bot_token=SLACK_TOKEN)
    desk, [notification] = await page_once(rig, own_database,
                                           "<!channel> Q&A <@U0123|boss> <https://evil.example|click> down")

    assert desk.row(notification)["status"] == "sent"
    [request] = receiver.requests
    text = request.json()["text"]
    assert "&lt;!channel&gt; Q&amp;A &lt;@U0123|boss&gt; &lt;https://evil.example|click&gt; down" in text
    # Tocsin's own link is the one piece of markup: every other < opens an entity.
    incident = desk.row(notification)["incident_id"]
    assert text.count("<") == 1
    assert text.endswith(f"\n<https://tocsin.example/api/v1/incidents/{incident}|Open in Tocsin>")
