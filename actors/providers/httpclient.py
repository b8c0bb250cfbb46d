"""What the HTTP providers (Slack, outbound webhooks) share: one kept-alive httpx client,
addresses checked before use, and HTTP's failures turned into `ProviderError`.

A webhook URL often carries its own secret in its path or query (Slack's incoming webhooks
do), so errors name the host only, and httpx's request log line is cut to the host too.
"""

from __future__ import annotations

import ipaddress
import logging

import httpx

from actors.providers.base import ProviderError, TimedOut
from cluster.settings import Settings

USER_AGENT = "Tocsin"
LOOPBACK_NAMES = frozenset({"localhost"})


def make_client(settings: Settings) -> httpx.AsyncClient:
    _hide_urls_in_httpx_log()
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.provider_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
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


def retryable_status(status: int) -> bool:
    """Busy, rate limited or broken on their side: may pass. Any other refusal will not."""
    return status in (408, 425, 429) or status >= 500


async def post(client: httpx.AsyncClient, provider: str, url: httpx.URL, *, content: bytes,
               headers: dict[str, str]) -> httpx.Response:
    """POST and return a 2xx response; anything else is a `ProviderError`."""
    try:
        response = await client.post(url, content=content, headers=headers)
    except httpx.TimeoutException:
        raise TimedOut(f"{provider}: no answer from {url.host} in time") from None
    except httpx.TransportError as exc:
        raise ProviderError(f"{provider}: {type(exc).__name__} reaching {url.host}", retryable=True) from None
    if not response.is_success:
        raise ProviderError(f"{provider}: HTTP {response.status_code} from {url.host}",
                            retryable=retryable_status(response.status_code))
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
