"""Providers, one module each. Every module exposes `from_settings(config) -> Provider | None`
(None when its settings do not configure it), given the provider's own settings slice
(settings.py); `build` makes the configured ones from the whole `Settings`.

A provider's module is imported when it is built, so a process imports only the client
libraries of the providers it uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tocsin.actors.providers.base import Provider
from tocsin.actors.providers.settings import (
    SesSettings,
    SlackSettings,
    SmtpSettings,
    SnsSettings,
    TwilioSettings,
    WebhookSettings,
)
from tocsin.actors.settings import Settings

log = logging.getLogger(__name__)


def _twilio(settings: Settings) -> Provider | None:
    from tocsin.actors.providers import twilio

    return twilio.from_settings(TwilioSettings.of(settings))


def _sns(settings: Settings) -> Provider | None:
    from tocsin.actors.providers import sns

    return sns.from_settings(SnsSettings.of(settings))


def _ses(settings: Settings) -> Provider | None:
    from tocsin.actors.providers import ses

    return ses.from_settings(SesSettings.of(settings))


def _smtp(settings: Settings) -> Provider | None:
    from tocsin.actors.providers import smtp

    return smtp.from_settings(SmtpSettings.of(settings))


def _slack(settings: Settings) -> Provider | None:
    from tocsin.actors.providers import slack

    return slack.from_settings(SlackSettings.of(settings))


def _webhook(settings: Settings) -> Provider | None:
    from tocsin.actors.providers import webhook

    return webhook.from_settings(WebhookSettings.of(settings))


#: Each provider by its name in the settings, and how it is made from them.
FACTORIES: dict[str, Callable[[Settings], Provider | None]] = {
    "twilio": _twilio, "sns": _sns, "ses": _ses, "smtp": _smtp, "slack": _slack, "webhook": _webhook,
}
KNOWN = tuple(FACTORIES)


def build(settings: Settings, names: list[str]) -> list[Provider]:
    """The providers named (in failover order) that are configured; the rest are skipped with a log line."""
    providers: list[Provider] = []
    for name in names:
        factory = FACTORIES.get(name)
        if factory is None:
            log.warning("unknown provider %r in settings: skipped", name)
            continue
        provider = factory(settings)
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
