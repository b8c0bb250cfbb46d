"""Secrets in what the API shows: which contact addresses are credentials, and how one is
shown to those who may not see it whole (colleagues, viewers, the audit log). Pure."""

from __future__ import annotations

from urllib.parse import urlsplit

# Kinds whose address is itself a credential: whoever holds a Slack or webhook URL can post to
# it (its token is in the path or the query), and a push token or endpoint (SNS, or a browser's
# push service) reaches the device.
# Phone numbers and e-mail addresses are how colleagues reach each other on call: shown.
SECRET_KINDS = frozenset({"slack", "webhook", "push", "webpush", "teams"})
_SHOWN_PUSH_CHARACTERS = 4


def masked(kind: str, address: str) -> str:
    """A URL's scheme and host without its credentials, path or query; a push address's last
    characters, to tell two devices apart."""
    if kind == "push":
        long_enough = len(address) >= 4 * _SHOWN_PUSH_CHARACTERS
        return "…" + address[-_SHOWN_PUSH_CHARACTERS:] if long_enough else "…"
    try:
        url = urlsplit(address)
        host = url.hostname
    except ValueError:
        return "…"
    return f"{url.scheme}://{host}/…" if host else "…"
