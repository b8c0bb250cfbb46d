"""What a shard counts about its own work, for `/metrics`: alerts taken in per integration,
batch sizes and commit times, and how long incidents waited for an acknowledgement and a
resolution (MTTA and MTTR).

The counts live in the shard, the single writer of its services, so summing the shards gives
the whole deployment at no cost on the hot path beyond a few additions per batch; a gateway
replica renders them on request. Counts start again from zero when a shard restarts, which
Prometheus reads as a counter reset.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tocsin.actors.domain.batch_plan import Plan
from tocsin.actors.domain.events import AlertEvent
from tocsin.actors.domain.incident import Outcome

# Bucket upper bounds; the +Inf bucket is implied.
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
COMMIT_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Response times of people: from seconds to a day.
RESPONSE_SECONDS_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)

NO_INTEGRATION = ""  # alerts that came in without a routing key (heartbeats, maintenance)


@dataclass(slots=True)
class Histogram:
    """Cumulative-on-read bucket counts, as Prometheus histograms are exposed."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)  # per bucket, the last one is +Inf
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def snapshot(self) -> dict[str, Any]:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.total, "count": self.count}

    @staticmethod
    def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
        """The sum of several snapshots taken with the same bounds."""
        merged = {"bounds": snapshots[0]["bounds"], "counts": [0] * len(snapshots[0]["counts"]), "sum": 0.0,
                  "count": 0}
        for snap in snapshots:
            merged["counts"] = [a + b for a, b in zip(merged["counts"], snap["counts"])]
            merged["sum"] += snap["sum"]
            merged["count"] += snap["count"]
        return merged


@dataclass(slots=True)
class ShardMeasures:
    alerts_by_integration: Counter[str] = field(default_factory=Counter)
    batch_size: Histogram = field(default_factory=lambda: Histogram(BATCH_SIZE_BUCKETS))
    commit_seconds: Histogram = field(default_factory=lambda: Histogram(COMMIT_SECONDS_BUCKETS))
    seconds_to_acknowledge: Histogram = field(default_factory=lambda: Histogram(RESPONSE_SECONDS_BUCKETS))
    seconds_to_resolve: Histogram = field(default_factory=lambda: Histogram(RESPONSE_SECONDS_BUCKETS))

    def record_batch(self, input_count: int, plans: list[Plan], seconds: float) -> None:
        """One committed transaction: its size, its time, and what its plans did."""
        self.batch_size.observe(input_count)
        self.commit_seconds.observe(seconds)
        for plan in plans:
            self._record_plan(plan)

    def _record_plan(self, plan: Plan) -> None:
        counts = self.alerts_by_integration
        for item, outcome, _, _ in plan.applied:
            if type(item) is AlertEvent and outcome is not Outcome.DUPLICATE:
                counts[item.integration_id or NO_INTEGRATION] += 1
        for entry in plan.log:
            incident = entry.incident
            if entry.kind == "acknowledged" and incident.acknowledged_at is not None:
                self.seconds_to_acknowledge.observe((incident.acknowledged_at - incident.created_at).total_seconds())
            elif entry.kind == "resolved" and incident.resolved_at is not None:
                self.seconds_to_resolve.observe((incident.resolved_at - incident.created_at).total_seconds())

    def snapshot(self) -> dict[str, Any]:
        return {
            "alerts_by_integration": dict(self.alerts_by_integration),
            "batch_size": self.batch_size.snapshot(),
            "commit_seconds": self.commit_seconds.snapshot(),
            "seconds_to_acknowledge": self.seconds_to_acknowledge.snapshot(),
            "seconds_to_resolve": self.seconds_to_resolve.snapshot(),
        }
