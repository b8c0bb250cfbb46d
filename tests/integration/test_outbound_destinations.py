"""Webhook and Slack requests reach only allowed addresses, checked when the connection is
made and made to the address checked: through the real providers and aiohttp, against a
local receiver, with the resolver standing in for DNS. No Ray and no database."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tocsin.actors.domain.destinations import IPAddress
from tocsin.actors.providers.base import Outgoing, Provider, ProviderError
from tocsin.actors.providers.settings import SlackSettings, WebhookSettings
from tocsin.actors.providers.slack import SlackProvider
from tocsin.actors.providers.webhook import WebhookProvider
from tocsin.actors.settings import Settings
from tocsin.serve.api.destinations import destination_problem
from tests.conftest import LOOPBACK_NETWORKS
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.self_signed import self_signed

pytestmark = pytest.mark.timeout(60)

PUBLIC = ipaddress.ip_address("93.184.216.34")  # where nothing is ever sent in these tests
LOOPBACK = ipaddress.ip_address("127.0.0.1")
NOTHING_ALLOWED = Settings(provider_timeout_s=5)
LOOPBACK_ALLOWED = Settings(provider_timeout_s=5, allow_private_destinations=LOOPBACK_NETWORKS)


class Dns:
    """Answers each lookup with the next of `answers` (the last one again once they run out),
    and remembers what was asked."""

    def __init__(self, *answers: list[IPAddress]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver(hang_limit_s=10) as server:
        yield server


def message(address: str, channel: str = "webhook") -> Outgoing:
    return Outgoing(notification_id=7, channel=channel, address=address, subject="db1 down", text="db1 down")


async def refused(provider: Provider, address: str, channel: str = "webhook") -> ProviderError:
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.send(message(address, channel))
    finally:
        await provider.close()
    return caught.value


def port_of(receiver: HttpReceiver) -> int:
    return int(receiver.url.rsplit(":", 1)[1])


async def test_a_name_that_resolves_to_loopback_is_refused_and_nothing_is_sent(
        receiver: HttpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    dns = Dns([LOOPBACK])

    error = await refused(WebhookProvider(WebhookSettings.of(NOTHING_ALLOWED), resolver=dns),
                          f"http://hooks.example.test:{port_of(receiver)}/hook?token=url-secret")

    assert str(error) == "webhook: destination not allowed"
    assert error.retryable is False
    assert receiver.requests == []
    assert dns.asked == [("hooks.example.test", port_of(receiver))]
    logged = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert logged == ["webhook: not sent: hooks.example.test resolves to 127.0.0.1, which is a loopback address"]
    assert not any("url-secret" in r.getMessage() for r in caplog.records)


async def test_dns_rebinding_public_when_created_internal_when_sent(receiver: HttpReceiver) -> None:
    """The name passes the check when the contact method is created; by the time a page goes
    out it resolves to loopback, and the connection is refused rather than made."""
    dns = Dns([PUBLIC], [LOOPBACK])
    address = f"http://rebind.example.test:{port_of(receiver)}/hook"

    assert await destination_problem("webhook", address, NOTHING_ALLOWED, detailed=True, resolver=dns) is None
    error = await refused(WebhookProvider(WebhookSettings.of(NOTHING_ALLOWED), resolver=dns), address)

    assert str(error) == "webhook: destination not allowed"
    assert len(dns.asked) == 2
    assert receiver.requests == []


async def test_the_connection_goes_to_the_address_checked_with_the_name_as_host(receiver: HttpReceiver) -> None:
    """One lookup, made by the check; aiohttp does not resolve the name again behind it."""
    dns = Dns([LOOPBACK], [PUBLIC])
    provider = WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED), resolver=dns)
    try:
        await provider.send(message(f"http://pinned.example.test:{port_of(receiver)}/hook"))
    finally:
        await provider.close()

    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["host"] == f"pinned.example.test:{port_of(receiver)}"
    assert dns.asked == [("pinned.example.test", port_of(receiver))]


async def test_one_internal_address_among_public_ones_is_enough_to_refuse(receiver: HttpReceiver) -> None:
    dns = Dns([PUBLIC, ipaddress.ip_address("10.0.0.5")])
    address = f"http://mixed.example.test:{port_of(receiver)}/"
    error = await refused(WebhookProvider(WebhookSettings.of(NOTHING_ALLOWED), resolver=dns), address)
    assert str(error) == "webhook: destination not allowed"


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "2130706433", "127.1", "[::ffff:127.0.0.1]", "[::1]",
                                  "localhost", "LOCALHOST"])
async def test_every_spelling_of_loopback_is_refused_at_send(receiver: HttpReceiver, host: str) -> None:
    error = await refused(WebhookProvider(WebhookSettings.of(NOTHING_ALLOWED)), f"http://{host}:{port_of(receiver)}/hook")
    assert str(error) == "webhook: destination not allowed"
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/",
                                 "http://10.0.0.1/", "http://192.168.0.1/", "http://[fe80::1]/", "http://0.0.0.0/",
                                 "http://224.0.0.1/", "http://100.64.0.1/"])
async def test_internal_addresses_are_refused_before_any_connection(url: str) -> None:
    error = await refused(WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED)), url)
    assert str(error) == "webhook: destination not allowed"


async def test_the_operators_networks_are_reached(receiver: HttpReceiver) -> None:
    provider = WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED))
    try:
        for host in ("127.0.0.1", "0x7f000001", "localhost"):
            await provider.send(message(f"http://{host}:{port_of(receiver)}/{host}"))
    finally:
        await provider.close()
    assert [r.path for r in receiver.requests] == ["/127.0.0.1", "/0x7f000001", "/localhost"]


async def test_a_redirect_to_an_internal_address_is_not_followed(receiver: HttpReceiver) -> None:
    receiver.respond(302, "moved", headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    error = await refused(WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED)), f"{receiver.url}/hook")
    assert "HTTP 302" in str(error) and error.retryable is False
    assert len(receiver.requests) == 1


async def test_a_name_that_does_not_resolve_may_resolve_later(receiver: HttpReceiver) -> None:
    async def nothing(host: str, port: int) -> list[IPAddress]:
        raise OSError(f"{host}: Name or service not known")

    error = await refused(WebhookProvider(WebhookSettings.of(NOTHING_ALLOWED), resolver=nothing), "http://gone.example.test/hook")
    assert error.retryable is True
    assert "reaching gone.example.test" in str(error)


async def test_slack_incoming_webhooks_and_the_web_api_are_checked_alike(receiver: HttpReceiver) -> None:
    dns = Dns([LOOPBACK])
    hook = await refused(SlackProvider(SlackSettings.of(NOTHING_ALLOWED), resolver=dns),
                         f"http://localhost:{port_of(receiver)}/services/T/B/x", channel="slack")
    settings = Settings(slack_api_url=f"{receiver.url}/api", slack_bot_token="xoxb-test", provider_timeout_s=5)
    api = await refused(SlackProvider(SlackSettings.of(settings)), "C0123ABCD", channel="slack")

    assert str(hook) == str(api) == "slack: destination not allowed"
    assert receiver.requests == []


async def test_proxies_named_in_the_environment_are_not_used(receiver: HttpReceiver,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would make the connection for us, to an address nobody checked."""
    with HttpReceiver(hang_limit_s=10) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        provider = WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED))
        try:
            await provider.send(message(f"{receiver.url}/direct"))
        finally:
            await provider.close()
        assert proxy.requests == []
    assert [r.path for r in receiver.requests] == ["/direct"]


async def test_a_long_answer_is_not_read_to_its_end_and_the_next_send_goes_out(receiver: HttpReceiver) -> None:
    receiver.respond(200, b"x" * 4_000_000, path="/long")
    provider = WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED))
    try:
        await provider.send(message(f"{receiver.url}/long"))
        await provider.send(message(f"{receiver.url}/short"))
    finally:
        await provider.close()
    assert [r.path for r in receiver.requests] == ["/long", "/short"]


async def test_an_https_destination_is_reached_only_with_a_certificate_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Certificates are checked against certifi's authorities, or an operator's own named by
    SSL_CERT_FILE: a receiver whose certificate no one trusted gets nothing."""
    cert, key, _ = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with HttpReceiver(hang_limit_s=10, tls=tls) as secure:
        error = await refused(WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED)), f"{secure.url}/untrusted")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        provider = WebhookProvider(WebhookSettings.of(LOOPBACK_ALLOWED))
        try:
            await provider.send(message(f"{secure.url}/trusted"))
        finally:
            await provider.close()

    assert "Certificate" in str(error) and error.retryable is True
    assert [r.path for r in secure.requests] == ["/trusted"]
