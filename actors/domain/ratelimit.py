"""Token buckets by key: per routing key at the gateway (429 with Retry-After past it), per
provider in the channel actors (a provider's published rate is never exceeded)."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, rate_per_s: float | None = None, burst: int | None = None) -> float | None:
        """None when allowed; otherwise the seconds to wait before a token is free. A key
        may have a rate and burst of its own (an integration configured with one)."""
        rate = rate_per_s or self._rate
        capacity = float(burst) if burst else self._burst
        now = self._clock()
        tokens, at = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate
