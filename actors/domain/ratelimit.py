"""Token buckets by key: per routing key at the gateway (429 with Retry-After past it), per
provider in the channel actors (a provider's published rate is never exceeded), and per
client address for unknown routing keys (BoundedRateLimiter: anyone can make up addresses)."""

from __future__ import annotations

import time
from collections import OrderedDict
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
        # Written out, not through _level: this runs for every alert, and a call costs.
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

    def wait(self, key: str, rate_per_s: float | None = None, burst: int | None = None) -> float | None:
        """What `take` would answer, without taking anything."""
        rate, tokens, _ = self._level(key, rate_per_s, burst)
        return None if tokens >= 1.0 else (1.0 - tokens) / rate

    def _level(self, key: str, rate_per_s: float | None, burst: int | None) -> tuple[float, float, float]:
        """The key's rate, its tokens now, and now."""
        rate = rate_per_s or self._rate
        capacity = float(burst) if burst else self._burst
        now = self._clock()
        tokens, at = self._buckets.get(key, (capacity, now))
        return rate, min(capacity, tokens + (now - at) * rate), now


class BoundedRateLimiter(RateLimiter):
    """Buckets for at most `max_keys` keys: past that, the one least recently taken from
    goes (a full bucket again), so that keys anyone can make up do not grow it forever."""

    def __init__(self, rate_per_s: float, burst: int, max_keys: int, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        super().__init__(rate_per_s, burst, clock)
        self._max_keys = max_keys
        self._buckets = OrderedDict()

    def take(self, key: str, rate_per_s: float | None = None, burst: int | None = None) -> float | None:
        wait = super().take(key, rate_per_s, burst)
        buckets = self._buckets
        assert isinstance(buckets, OrderedDict)
        buckets.move_to_end(key)
        while len(buckets) > self._max_keys:
            buckets.popitem(last=False)
        return wait
