"""Providers, one module each. Every module exposes `from_settings(settings) -> Provider | None`
(None when the provider is not configured); `build` makes the configured ones."""

from __future__ import annotations

import asyncio
import importlib
import logging

from actors.providers.base import Provider
from cluster.settings import Settings

log = logging.getLogger(__name__)

KNOWN = ("twilio", "sns", "ses", "smtp", "slack", "webhook")


def build(settings: Settings, names: list[str]) -> list[Provider]:
    """The providers named (in failover order) that are configured; the rest are skipped with a log line."""
    providers: list[Provider] = []
    for name in names:
        if name not in KNOWN:
            log.warning("unknown provider %r in settings: skipped", name)
            continue
        provider = importlib.import_module(f"actors.providers.{name}").from_settings(settings)
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
