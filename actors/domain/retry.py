"""When to try a notification again: exponential back-off with jitter, and when to stop."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryRules:
    base_s: float = 2.0
    cap_s: float = 300.0
    max_attempts: int = 6  # rounds through every provider before the row is dead

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds before round `attempt + 1` (attempt counts from 1): "equal jitter", half
        fixed and half random, so retries of many rows spread out and none comes at once."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(attempt - 1, 0))
        jitter = rng.uniform(0, ceiling / 2) if rng is not None else random.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
