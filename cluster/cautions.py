"""What `tocsin up` asks the person to do about its settings: each caution is a setting that
works on one's own machine but fails, or is unsafe, once people and providers rely on it."""

from __future__ import annotations

from tocsin.actors.settings import Settings

# Providers that call Tocsin back on its public URL (Twilio: texts replied to, keys pressed).
CALLING_BACK = ("twilio",)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cautions(settings: Settings, providers: dict[str, list[str]]) -> list[str]:
    """What to change, given the settings and each channel's configured providers."""
    out = []
    calling_back = sorted({name for names in providers.values() for name in names if name in CALLING_BACK})
    if calling_back and settings.public_url is None:
        out.append(f"{', '.join(calling_back)} cannot call back {settings.base_url} with replies and key presses:"
                   " set TOCSIN_PUBLIC_URL to the address it reaches Tocsin at (HTTPS)")
    if settings.host not in _LOOPBACK and not settings.reachable_url.startswith("https://"):
        out.append(f"serving on {settings.host} over plain HTTP: passwords and sessions would cross the network"
                   " in the clear, and browsers keep the session cookie over HTTPS only. Put HTTPS in front and"
                   " set TOCSIN_PUBLIC_URL=https://…")
    return out
