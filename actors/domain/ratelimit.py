"""Token buckets by key: per routing key at the gateway (429 with Retry-After past it), per
provider in the channel actors (a provider's published rate is never exceeded), and per
client address for unknown routing keys."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int | None = None
    ) -> None:
        """With `max_keys`, the buckets least recently taken from go first when there are more
        (keys that anyone can make up, such as client addresses, must not grow it forever)."""
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens, at); ordered by the last take only when bounded, where it is needed.
        self._buckets: dict[str, tuple[float, float]] = OrderedDict() if max_keys is not None else {}

    def take(self, key: str, rate_per_s: float | None = None, burst: int | None = None) -> float | None:
        """None when allowed; otherwise the seconds to wait before a token is free. A key
        may have a rate and burst of its own (an integration configured with one)."""
        # Written out rather than through _level: this runs for every alert, and a call costs.
        rate = rate_per_s or self._rate
        capacity = float(burst) if burst else self._burst
        now = self._clock()
        tokens, at = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * rate)
        taken = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if taken else tokens, now)
        if self._max_keys is not None:
            self._forget_least_recent(key)
        return None if taken else (1.0 - tokens) / rate

    def wait(self, key: str, rate_per_s: float | None = None, burst: int | None = None) -> float | None:
        """What `take` would answer, without taking anything."""
        rate, tokens, _ = self._level(key, rate_per_s, burst)
        return None if tokens >= 1.0 else (1.0 - tokens) / rate

    def _forget_least_recent(self, taken: str) -> None:
        buckets = self._buckets
        assert isinstance(buckets, OrderedDict) and self._max_keys is not None
        buckets.move_to_end(taken)
        while len(buckets) > self._max_keys:
            buckets.popitem(last=False)

    def _level(self, key: str, rate_per_s: float | None, burst: int | None) -> tuple[float, float, float]:
        """The key's rate, its tokens now, and now."""
        rate = rate_per_s or self._rate
        capacity = float(burst) if burst else self._burst
        now = self._clock()
        tokens, at = self._buckets.get(key, (capacity, now))
        return rate, min(capacity, tokens + (now - at) * rate), now
