"""What the HTTP providers (outbound webhooks, Slack's incoming webhooks, Teams, Web Push)
share: one kept-alive aiohttp session each, addresses checked before use, and HTTP's
failures turned into `ProviderError`.

The client connects only to public addresses, or to the networks the operator allowed
(`allow_private_destinations`): every address a host resolves to is checked when a
connection is opened, and the connection goes to an address so checked (resolver.py's
`CheckedResolver`). An address written in the URL, in any spelling, is checked here before
the request and sent to as its canonical form, which aiohttp connects to without asking a
resolver. Redirects are not followed, and proxies named in the environment are not used
(they would make the connection for us, unchecked). A refused destination fails the attempt
for good with "destination not allowed"; the address and reason go to the log, not to the
attempt.

A webhook URL often carries its own secret in its path or query (Slack's incoming webhooks
do), so errors name the host only.

aiohttp rather than httpx: posting a webhook to a local receiver, eight at a time, cost the
sending process 99 µs of CPU with aiohttp against 838–881 µs with httpx (measured here), and
during a storm with paging the webhook channel's CPU is taken from the alert path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import ssl
from collections.abc import Mapping

import aiohttp
import certifi
from yarl import URL

from tocsin.actors.domain.destinations import Network
from tocsin.actors.providers.base import ProviderError, TimedOut
from tocsin.actors.providers.resolver import CheckedResolver, DestinationRefused, Resolve, checked_literal, resolve

log = logging.getLogger(__name__)

USER_AGENT = "Tocsin"
LOOPBACK_NAMES = frozenset({"localhost"})
REFUSED = "destination not allowed"
ANSWER_LIMIT = 64 * 1024  # of an answer's body, read so that its connection can be kept; the rest is not wanted
_HOST = re.compile(r"[A-Za-z0-9._~:-]+")  # a name (IDNA-encoded) or an address: nothing else is a host


class HttpClient:
    """Posts to checked destinations over one kept-alive session, opened by the first post on
    that post's event loop (providers are made outside any loop)."""

    def __init__(self, allowed: tuple[Network, ...], timeout_s: float, resolver: Resolve = resolve) -> None:
        self._allowed = allowed
        self._timeout_s = timeout_s
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: URL, *, content: bytes, headers: Mapping[str, str]) -> aiohttp.ClientResponse:
        """The answer, its body read up to ANSWER_LIMIT; raises what aiohttp and the resolver raise."""
        async with self._opened().post(self._pinned(url), data=content, headers=headers, allow_redirects=False) as answer:
            await _drain(answer)
        return answer

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=CheckedResolver(self._allowed, self._resolver),
                                             use_dns_cache=False, ssl=verifying_context())
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                headers={"User-Agent": USER_AGENT}, trust_env=False)
        return self._session

    def _pinned(self, url: URL) -> URL:
        """The URL to request: a literal address checked, and written canonically (aiohttp
        refuses old spellings such as 127.1 and connects to canonical ones unresolved)."""
        address = checked_literal(url.raw_host or "", self._allowed)
        return url if address is None else url.with_host(str(address))  # a name: the resolver checks it


async def _drain(answer: aiohttp.ClientResponse) -> None:
    """Read a short answer to its end, so that the connection goes back to the pool; a longer
    one is left, and its connection closed."""
    read = 0
    while read <= ANSWER_LIMIT:
        chunk = await answer.content.read(ANSWER_LIMIT)
        if not chunk:
            return
        read += len(chunk)


def verifying_context() -> ssl.SSLContext:
    """The certificate authorities trusted: those of SSL_CERT_FILE or SSL_CERT_DIR when set
    (an operator's own), else certifi's bundle, the same on every machine whatever its system
    store holds (as httpx trusted, which these providers used before)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def make_client(allowed: tuple[Network, ...], timeout_s: float, resolver: Resolve = resolve) -> HttpClient:
    """A client that connects only to public addresses and the `allowed` networks."""
    return HttpClient(allowed, timeout_s, resolver)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() in LOOPBACK_NAMES


def check_url(provider: str, address: str, *, https_only: bool) -> URL:
    """The address as a URL we will post to, or a non-retryable error. With `https_only`,
    plain http is still allowed to loopback (local receivers, tests)."""
    try:
        url = URL(address)
        host = url.raw_host or ""
    except (ValueError, TypeError):
        raise ProviderError(f"{provider}: not a URL", retryable=False) from None
    if host and not _HOST.fullmatch(host):
        raise ProviderError(f"{provider}: not a URL", retryable=False)
    allowed = url.scheme == "https" or (url.scheme == "http" and (not https_only or is_loopback(host)))
    if not allowed or not host:
        raise ProviderError(f"{provider}: not an {'https' if https_only else 'http(s)'} URL", retryable=False)
    return url


class Refused(ProviderError):
    """The server answered, with a status that is not 2xx."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, retryable=retryable_status(status))
        self.status = status


def retryable_status(status: int) -> bool:
    """Busy, rate limited or broken on their side: may pass. Any other refusal will not."""
    return status in (408, 425, 429) or status >= 500


async def post(client: HttpClient, provider: str, url: URL, *, content: bytes,
               headers: Mapping[str, str]) -> Mapping[str, str]:
    """POST; the headers of a 2xx answer (Web Push reads Location). Anything else is a
    `ProviderError` (`Refused` when the server answered with another status)."""
    host = url.raw_host
    try:
        response = await client.post(url, content=content, headers=headers)
    except DestinationRefused as refused:
        log.warning("%s: not sent: %s", provider, refused)
        raise ProviderError(f"{provider}: {REFUSED}", retryable=False) from None
    except asyncio.TimeoutError:
        raise TimedOut(f"{provider}: no answer from {host} in time") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise ProviderError(f"{provider}: {type(exc).__name__} reaching {host}", retryable=True) from None
    if not 200 <= response.status < 300:
        raise Refused(f"{provider}: HTTP {response.status} from {host}", response.status)
    return response.headers
