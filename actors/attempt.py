"""What a failed try at a provider came to, whatever the provider raised: the outcome
recorded, the error, and what the failure says about the provider, for its circuit breaker.

A provider says it did not take a message by raising `ProviderError`. Anything else it
raises (a bug, a client library's surprise, text it could not encode) is a failed try all
the same: the message goes on to the next provider, is tried again later and in the end is
dead with this error. No exception leaves its row claimed and sent again forever.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum

from tocsin.actors.domain.plaintext import one_line
from tocsin.actors.providers.base import ProviderError, TimedOut
from tocsin.actors.store.outbox import AttemptOutcome

ERROR_LIMIT = 500  # characters of an error kept with the attempt and the row
ID_LIMIT = 255  # characters of a provider's message id kept (it is indexed)


class Verdict(Enum):
    """What a failure says about the provider."""

    DOWN = "down"  # it failed or did not answer: counts against its breaker
    UP = "up"  # it answered, refusing this message: it is up
    UNKNOWN = "unknown"  # it failed on this message, before or without the provider's word


@dataclass(frozen=True, slots=True)
class Failure:
    outcome: AttemptOutcome  # FAILED (may pass), REJECTED (will not), TIMEOUT
    error: str
    verdict: Verdict


def failure(provider: str, exc: Exception, timeout_s: float) -> Failure:
    if isinstance(exc, (asyncio.TimeoutError, TimedOut)):
        error = storable(str(exc) or f"no answer within {timeout_s:.0f} s")
        return Failure(AttemptOutcome.TIMEOUT, error, Verdict.DOWN)
    if isinstance(exc, ProviderError):
        if exc.retryable:
            return Failure(AttemptOutcome.FAILED, storable(str(exc)), Verdict.DOWN)
        # It answered, and refused this message (say, an address that is gone): counted as
        # down, one bad address would open the breaker and hold back everyone else's messages.
        return Failure(AttemptOutcome.REJECTED, storable(str(exc)), Verdict.UP)
    return Failure(AttemptOutcome.FAILED, storable(f"{provider}: {type(exc).__name__}: {exc}"), Verdict.UNKNOWN)


def storable(text: str) -> str:
    """An error on one line, bounded, that Postgres can hold (no NUL, no lone surrogate)."""
    return one_line(text, ERROR_LIMIT)


def message_id(provider_message_id: str | None) -> str | None:
    """The id a provider gave, as it can be stored and looked up."""
    return None if provider_message_id is None else one_line(provider_message_id, ID_LIMIT)
