"""The SMTP listener on a loopback port, with the shards and the key lookup stood in for:
250 only once durable, 451 when not, 554 when the database refused the alert, 550 for
unknown addresses, 451 over the rate limit, 552 over the size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent
from tocsin.actors.rule_tally import RuleTally
from tocsin.actors.rulebook import RuleBook
from tocsin.actors.settings import Settings
from tocsin.actors.store.database import Database
from tocsin.actors.store.rules import Snapshot
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.ingest.email_listener import EmailListener
from tocsin.serve.ingest.ruling import Ruling
from tests.conftest import free_port

DOMAIN = "alerts.example.test"
KEYS = {
    "a" * 32: IntegrationKey("int-a", "svc-a", "email", False),
    "b" * 32: IntegrationKey("int-b", "svc-b", "email", True),
    "c" * 32: IntegrationKey("int-c", "svc-c", "pagerduty", False),
    "d" * 32: IntegrationKey("int-d", "svc-d", "email", False, {"rate_limit_per_s": 0.001, "rate_limit_burst": 1}),
}


class FakeShards:
    def __init__(self) -> None:
        self.received: list[Any] = []
        self.fail = False
        self.refuse: Reply | None = None
        self.broken = False

    async def submit(self, item: Any) -> Reply:
        [reply] = await self.submit_many([item])
        return reply

    async def submit_many(self, items: list[Any]) -> list[Reply]:
        if self.fail:
            raise BatchFailed("commit failed")
        if self.broken:
            raise RuntimeError("a bug on our side")
        self.received += items
        return [self.refuse or Reply("opened", 1, "triggered") for _ in items]


def no_rules() -> Ruling:
    """Rules loaded once, none of them: every alert goes as it came."""
    unused = Database("postgresql://unused", max_size=1)
    book = RuleBook(unused)
    book.load(Snapshot(generation=1, sets={}, routers={}))
    return Ruling(book, RuleTally(unused))


async def find(key: str) -> IntegrationKey | None:
    return KEYS.get(key)


@pytest.fixture
async def listener() -> AsyncIterator[tuple[EmailListener, FakeShards, int]]:
    port, shards = free_port(), FakeShards()
    settings = Settings(host="127.0.0.1", smtp_listen_port=port, email_domain=DOMAIN, smtp_max_message_bytes=4096,
                        key_cache_ttl_s=0)
    listener = EmailListener(settings, "postgresql://unused", shards=shards, find=find,  # type: ignore[arg-type]
                             ruling=no_rules())
    assert (await listener.stats())["port"] == port
    yield listener, shards, port
    await listener.close()


def mail(to: str, subject: str = "Disk full on db1", body: str = "92% used") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "nagios@monitor.example.com", to, subject
    message.set_content(body)
    return message


async def send(port: int, message: EmailMessage) -> Any:
    return await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=10)


async def test_a_mail_is_taken_once_durable(listener):
    _, shards, port = listener
    errors, answer = await send(port, mail(f"{'A' * 32}@{DOMAIN.upper()}"))
    assert errors == {} and answer.startswith("2.0.0 Accepted: 1 alert")
    [event] = shards.received
    assert isinstance(event, AlertEvent)
    assert (event.service_id, event.integration_id, event.summary, event.action) == (
        "svc-a", "int-a", "Disk full on db1", Action.TRIGGER)


async def test_a_mail_that_cannot_be_made_durable_is_deferred_with_451(listener):
    _, shards, port = listener
    shards.fail = True
    with pytest.raises(aiosmtplib.SMTPDataError) as raised:
        await send(port, mail(f"{'a' * 32}@{DOMAIN}"))
    assert raised.value.code == 451 and "try again later" in raised.value.message
    assert shards.received == []


async def test_a_mail_whose_alert_the_database_refused_gets_a_permanent_554_naming_the_field(listener):
    _, shards, port = listener
    shards.refuse = Reply("invalid", note="holds U+0000, which cannot be stored", fields=("subject", "bo\ufffddy"))
    with pytest.raises(aiosmtplib.SMTPDataError) as raised:
        await send(port, mail(f"{'a' * 32}@{DOMAIN}"))
    assert raised.value.code == 554
    assert "subject: holds U+0000, which cannot be stored; bo?dy: holds" in raised.value.message


@pytest.mark.parametrize(("local", "says"), [
    ("0" * 32, "no such integration address"), ("b" * 32, "revoked"), ("c" * 32, "no such integration address"),
])
async def test_unknown_revoked_and_foreign_recipients_get_550(listener, local, says):
    _, shards, port = listener
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await send(port, mail(f"{local}@{DOMAIN}"))
    [refusal] = raised.value.recipients
    assert refusal.code == 550 and says in refusal.message
    assert shards.received == []


async def test_another_domain_is_not_relayed(listener):
    _, _, port = listener
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await send(port, mail(f"{'a' * 32}@example.com"))
    assert raised.value.recipients[0].code == 550 and "relaying denied" in raised.value.recipients[0].message


async def test_over_the_integrations_rate_limit_is_451(listener):
    _, shards, port = listener
    await send(port, mail(f"{'d' * 32}@{DOMAIN}"))
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await send(port, mail(f"{'d' * 32}@{DOMAIN}"))
    assert raised.value.recipients[0].code == 451
    assert len(shards.received) == 1


async def test_a_message_over_the_size_limit_gets_552(listener):
    _, shards, port = listener
    with pytest.raises(aiosmtplib.SMTPResponseException) as raised:
        await send(port, mail(f"{'a' * 32}@{DOMAIN}", body="x" * 8192))
    assert raised.value.code == 552
    assert shards.received == []


async def test_one_message_to_two_integrations_is_one_batch_of_two(listener):
    _, shards, port = listener
    message = mail(f"{'a' * 32}@{DOMAIN}")
    message.replace_header("To", f"{'a' * 32}@{DOMAIN}, {'0' * 32}@{DOMAIN}, {'D' * 32}@{DOMAIN}")
    errors, _ = await send(port, message)
    assert list(errors) == [f"{'0' * 32}@{DOMAIN}"]
    assert sorted(e.service_id for e in shards.received) == ["svc-a", "svc-d"]


async def test_a_message_that_cannot_be_read_is_refused_for_good_with_554(listener):
    _, shards, port = listener
    raw = (f"From: nagios@monitor.example.com\r\nTo: {'a' * 32}@{DOMAIN}\r\nSubject: s\r\n"
           "Message-ID: <<<>>>\r\n\r\nbody\r\n").encode()  # the standard address parser raises on it
    with pytest.raises(aiosmtplib.SMTPDataError) as raised:
        await aiosmtplib.send(raw, sender="nagios@monitor.example.com", recipients=[f"{'a' * 32}@{DOMAIN}"],
                              hostname="127.0.0.1", port=port, timeout=10)
    assert raised.value.code == 554 and "could not be read" in raised.value.message
    assert shards.received == []


async def test_a_failure_on_our_side_is_deferred_with_451_naming_no_exception(listener):
    _, shards, port = listener
    shards.broken = True
    with pytest.raises(aiosmtplib.SMTPDataError) as raised:
        await send(port, mail(f"{'a' * 32}@{DOMAIN}"))
    assert raised.value.code == 451 and "RuntimeError" not in raised.value.message
    shards.broken = False
    errors, _ = await send(port, mail(f"{'a' * 32}@{DOMAIN}"))
    assert errors == {} and len(shards.received) == 1


async def test_the_size_limit_is_advertised(listener):
    _, _, port = listener
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as smtp:
        await smtp.ehlo()
        assert smtp.supports_extension("size") and smtp.esmtp_extensions["size"] == "4096"
class CountingFind:
    def __init__(self) -> None:
        self.looked_up: list[str] = []

    async def __call__(self, key: str) -> IntegrationKey | None:
        self.looked_up.append(key)
        return KEYS.get(key)


@pytest.fixture
async def budgeted() -> AsyncIterator[tuple[CountingFind, FakeShards, int]]:
    """A listener whose clients may each try three unknown addresses, counting its lookups."""
    port, shards, lookups = free_port(), FakeShards(), CountingFind()
    settings = Settings(host="127.0.0.1", smtp_listen_port=port, email_domain=DOMAIN, key_cache_ttl_s=0,
                        unknown_keys_burst=3, unknown_keys_per_s=0.001)
    listener = EmailListener(settings, "postgresql://unused", shards=shards, find=lookups,  # type: ignore[arg-type]
                             ruling=no_rules())
    assert (await listener.stats())["port"] == port
    yield lookups, shards, port
    await listener.close()


async def send_from(address: str, port: int, to: str) -> Any:
    return await aiosmtplib.send(mail(to), hostname="127.0.0.1", port=port, timeout=10, source_address=(address, 0))


@pytest.mark.parametrize("local", ["z" * 32, "a" * 31, "a" * 33, "a" * 16 + "-" * 16, "postmaster"])
async def test_an_address_that_cannot_be_an_integrations_is_550_without_a_lookup(budgeted, local):
    lookups, shards, port = budgeted
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await send_from("127.0.0.2", port, f"{local}@{DOMAIN}")
    [refusal] = raised.value.recipients
    assert refusal.code == 550 and "32 characters of 0123456789abcdef" in refusal.message
    assert lookups.looked_up == [] and shards.received == []


async def test_a_client_past_its_unknown_addresses_gets_451_and_no_lookup_others_and_known_ones_go_on(budgeted):
    lookups, shards, port = budgeted
    flooder, other, real = "127.0.0.2", "127.0.0.3", f"{'a' * 32}@{DOMAIN}"
    assert (await send_from(flooder, port, real))[0] == {}
    for n in range(3):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
            await send_from(flooder, port, f"{n:032x}@{DOMAIN}")
        assert raised.value.recipients[0].code == 550
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await send_from(flooder, port, f"{'9' * 32}@{DOMAIN}")
    assert raised.value.recipients[0].code == 451 and "Too many unknown recipients" in raised.value.recipients[0].message
    assert "9" * 32 not in lookups.looked_up

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await send_from(other, port, f"{'9' * 32}@{DOMAIN}")
    assert raised.value.recipients[0].code == 550
    assert (await send_from(flooder, port, real))[0] == {}  # a key in use still goes through
    assert len(shards.received) == 2


async def test_a_malformed_reply_address_is_550_and_a_reply_address_goes_alone(listener):
    _, shards, port = listener
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await send(port, mail(f"reply+notatoken@{DOMAIN}"))
    assert raised.value.recipients[0].code == 550 and "not a reply address" in raised.value.recipients[0].message

    reply_address = f"reply+{'a' * 26}@{DOMAIN}"
    for first, second in ((f"{'a' * 32}@{DOMAIN}", reply_address), (reply_address, f"{'a' * 32}@{DOMAIN}")):
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as smtp:
            await smtp.mail("alice@example.com")
            assert (await smtp.rcpt(first)).code == 250
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as beside:
                await smtp.rcpt(second)
            assert beside.value.code == 452 and "alone" in beside.value.message
    assert shards.received == []
