"""Providers, one module each. Every module exposes `from_settings(config) -> Provider | None`
(None when its settings do not configure it), given the provider's own settings slice
(settings.py); `build` makes the configured ones from the whole `Settings`."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable

from tocsin.actors.providers.base import Provider
from tocsin.actors.providers.settings import (
    SesSettings,
    SlackSettings,
    SmtpSettings,
    SnsSettings,
    TeamsSettings,
    TwilioSettings,
    WebhookSettings,
    WebPushSettings,
)
from tocsin.actors.settings import Settings

log = logging.getLogger(__name__)

#: Each provider by its name in the settings, which is also its module's, and how its own
#: settings are made from the whole: the module's `from_settings` takes exactly that slice.
SLICES: dict[str, Callable[[Settings], object]] = {
    "twilio": TwilioSettings.of,
    "sns": SnsSettings.of,
    "ses": SesSettings.of,
    "smtp": SmtpSettings.of,
    "slack": SlackSettings.of,
    "webhook": WebhookSettings.of,
    "webpush": WebPushSettings.of,
    "teams": TeamsSettings.of,
}
KNOWN = tuple(SLICES)


def make(name: str, settings: Settings) -> Provider | None:
    """The provider named, None when the settings do not configure it. Its module is imported
    now, so a process imports only the client libraries of the providers it uses."""
    module = importlib.import_module(f"{__name__}.{name}")
    provider: Provider | None = module.from_settings(SLICES[name](settings))
    return provider


def build(settings: Settings, names: list[str]) -> list[Provider]:
    """The providers named (in failover order) that are configured; the rest are skipped with a log line."""
    providers: list[Provider] = []
    for name in names:
        if name not in SLICES:
            log.warning("unknown provider %r in settings: skipped", name)
            continue
        provider = make(name, settings)
        if provider is None:
            log.info("provider %s is not configured: skipped", name)
        else:
            providers.append(provider)
    return providers


def configured(settings: Settings, names: list[str]) -> list[str]:
    """Which of these providers the settings configure (each is built, then closed)."""
    providers = build(settings, names)

    async def close_all() -> None:
        for provider in providers:
            await provider.close()

    asyncio.run(close_all())
    return [p.name for p in providers]
