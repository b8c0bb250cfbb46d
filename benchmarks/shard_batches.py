"""One ServiceShard's write path, without HTTP or Ray: how long a batch of alerts takes to
become durable, by batch size.

    python3 benchmarks/shard_batches.py [--seconds 5]

The shard runs in this process on a fresh database; 10 services, 1,000 dedup keys, all
incidents opened first, so the measured batches are occurrences, as in a storm. Each batch
is one `apply` call awaited to its commit, one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.domain.events import Action, AlertEvent  # noqa: E402
from tocsin.actors.shard import ServiceShard  # noqa: E402
from tocsin.actors.store.migrate import migrate  # noqa: E402
from benchmarks.harness import fresh_database, record  # noqa: E402

console = Console()
SIZES = (1, 8, 50, 200)


class Storm:
    def __init__(self, services: list[str], keys: int = 1000) -> None:
        self.services, self.keys, self.rng = services, keys, random.Random(1)

    def batch(self, size: int) -> list[AlertEvent]:
        return [self.event() for _ in range(size)]

    def event(self) -> AlertEvent:
        k = self.rng.randrange(self.keys)
        return AlertEvent(
            event_id=str(uuid.uuid4()), service_id=self.services[k % len(self.services)], integration_id=None,
            dedup_key=f"key-{k}", action=Action.TRIGGER, received_at=datetime.now(timezone.utc),
            summary="checkout latency high", payload='{"summary": "checkout latency high"}',
        )


async def run(url: str, seconds: float) -> list[tuple[int, float, float]]:
    await migrate(url)
    conn = await asyncpg.connect(url)
    services = [str(uuid.uuid4()) for _ in range(10)]
    await conn.executemany("INSERT INTO services (id, name) VALUES ($1, 'bench')", [(s,) for s in services])
    await conn.close()
    shard, storm = ServiceShard(0, url), Storm(services)
    for _ in range(40):  # open every incident: what follows is occurrences
        await shard.apply(storm.batch(50))
    results = []
    for size in SIZES:
        batches, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            await shard.apply(storm.batch(size))
            batches += 1
        elapsed = time.perf_counter() - started
        results.append((size, batches * size / elapsed, elapsed / batches * 1000))
    await shard.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="per batch size")
    args = parser.parse_args()
    with fresh_database() as url:
        results = asyncio.run(run(url, args.seconds))
    table = Table("batch size", "events/s", "ms per batch", title="ServiceShard write path")
    lines = ["| batch size | events/s | ms per batch |", "|---|---|---|"]
    for size, rate, ms in results:
        table.add_row(str(size), f"{rate:,.0f}", f"{ms:.2f}")
        lines.append(f"| {size} | {rate:,.0f} | {ms:.2f} |")
    console.print(table)
    lines.append("\nIn-process shard, one call at a time, each awaited to its commit (Postgres, fsync on).")
    command = "python3 benchmarks/shard_batches.py" + ("" if args.seconds == 5.0 else f" --seconds {args.seconds}")
    record("ServiceShard write path (benchmarks/shard_batches.py)", command, "\n".join(lines))


if __name__ == "__main__":
    main()
