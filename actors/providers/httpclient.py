"""What the HTTP providers (Slack, outbound webhooks) share: one kept-alive httpx client,
addresses checked before use, and HTTP's failures turned into `ProviderError`.

The client connects only to public addresses, or to the networks the operator allowed
(`allow_private_destinations`): every address a host resolves to is checked when a
connection is opened, and the connection goes to an address so checked (resolver.py).
Redirects are not followed. A refused destination fails the attempt for good with
"destination not allowed"; the address and reason go to the log, not to the attempt.

A webhook URL often carries its own secret in its path or query (Slack's incoming webhooks
do), so errors name the host only, and httpx's request log line is cut to the host too.
"""

from __future__ import annotations

import ipaddress
import logging

import httpcore
import httpx

from tocsin.actors.domain.destinations import Network
from tocsin.actors.providers.base import ProviderError, TimedOut
from tocsin.actors.providers.resolver import DestinationRefused, PinnedBackend, Resolve, resolve

log = logging.getLogger(__name__)

USER_AGENT = "Tocsin"
LOOPBACK_NAMES = frozenset({"localhost"})
REFUSED = "destination not allowed"


def make_client(allowed: tuple[Network, ...], timeout_s: float, resolver: Resolve = resolve) -> httpx.AsyncClient:
    """A client that connects only to public addresses and the `allowed` networks. Given a
    transport of its own, httpx also ignores HTTP(S)_PROXY, which would otherwise make the
    connection for us, unchecked."""
    _hide_urls_in_httpx_log()
    return httpx.AsyncClient(
        transport=_PinnedTransport(PinnedBackend(allowed, resolver)),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport on a connection pool that opens its connections through
    `backend`. httpx takes no network backend as an argument; its pool is its `_pool`."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        super().__init__()
        limits = httpx.Limits()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() in LOOPBACK_NAMES


def check_url(provider: str, address: str, *, https_only: bool) -> httpx.URL:
    """The address as a URL we will post to, or a non-retryable error. With `https_only`,
    plain http is still allowed to loopback (local receivers, tests)."""
    try:
        url = httpx.URL(address)
    except httpx.InvalidURL:
        raise ProviderError(f"{provider}: not a URL", retryable=False) from None
    allowed = url.scheme == "https" or (url.scheme == "http" and (not https_only or is_loopback(url.host)))
    if not allowed or not url.host:
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


async def post(client: httpx.AsyncClient, provider: str, url: httpx.URL, *, content: bytes,
               headers: dict[str, str]) -> httpx.Response:
    """POST and return a 2xx response; anything else is a `ProviderError` (`Refused` when the
    server answered with another status)."""
    try:
        response = await client.post(url, content=content, headers=headers)
    except DestinationRefused as refused:
        log.warning("%s: not sent: %s", provider, refused)
        raise ProviderError(f"{provider}: {REFUSED}", retryable=False) from None
    except httpx.TimeoutException:
        raise TimedOut(f"{provider}: no answer from {url.host} in time") from None
    except httpx.TransportError as exc:
        raise ProviderError(f"{provider}: {type(exc).__name__} reaching {url.host}", retryable=True) from None
    if not response.is_success:
        raise Refused(f"{provider}: HTTP {response.status_code} from {url.host}", response.status_code)
    return response


class _HostOnly(logging.Filter):
    """httpx logs `HTTP Request: POST <url> ...` at INFO: keep the scheme and host only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) > 1 and isinstance(record.args[1], httpx.URL):
            url = record.args[1]
            record.args = (record.args[0], f"{url.scheme}://{url.netloc.decode()}/…", *record.args[2:])
        return True


def _hide_urls_in_httpx_log() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _HostOnly) for f in logger.filters):
        logger.addFilter(_HostOnly())
