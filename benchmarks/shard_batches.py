"""One ServiceShard's write path, without HTTP or Ray: how long a batch of alerts takes to
become durable, by batch size.

    python3 benchmarks/shard_batches.py [--seconds 5] [--storm-batches 20] [--storm-batch 3000]

The shard runs in this process on a fresh database; 10 services, 1,000 dedup keys, all
incidents opened first, so the measured batches are occurrences, as in a storm. Each batch
is one `apply` call awaited to its commit, one after another.

Then the CPU per alert in storm-sized batches (`--storm-batch` alerts over the 1,000 keys,
about what 32 connections of 100 Alertmanager alerts each hand one shard at a time): this
process (the shard's own work, events made beforehand) and the shard's Postgres backends,
from their CPU times; and apart, what crossing into a Ray actor adds per alert (unpickling
the events, pickling the replies).
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.domain.events import Action, AlertEvent  # noqa: E402
from tocsin.actors.domain.input_batch import InputBatch  # noqa: E402
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

    def event(self, key: int | None = None) -> AlertEvent:
        k = self.rng.randrange(self.keys) if key is None else key
        return AlertEvent(
            event_id=str(uuid.uuid4()), service_id=self.services[k % len(self.services)], integration_id=None,
            dedup_key=f"key-{k}", action=Action.TRIGGER, received_at=datetime.now(timezone.utc),
            summary="checkout latency high", payload='{"summary": "checkout latency high"}',
        )


async def run(url: str, seconds: float, storm_batches: int, batch_size: int
              ) -> tuple[list[tuple[int, float, float]], dict[str, float]]:
    await migrate(url)
    conn = await asyncpg.connect(url)
    services = [str(uuid.uuid4()) for _ in range(10)]
    await conn.executemany("INSERT INTO services (id, name) VALUES ($1, 'bench')", [(s,) for s in services])
    await conn.close()
    shard, storm = ServiceShard(0, url), Storm(services)
    for first in range(0, storm.keys, 50):  # open every incident: what follows is occurrences
        await shard.apply([storm.event(k) for k in range(first, first + 50)])
    results = []
    for size in SIZES:
        batches, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            await shard.apply(storm.batch(size))
            batches += 1
        elapsed = time.perf_counter() - started
        results.append((size, batches * size / elapsed, elapsed / batches * 1000))
    cpu = await storm_cpu(shard, storm, storm_batches, batch_size)
    await shard.close()
    return results, cpu


async def storm_cpu(shard: ServiceShard, storm: Storm, batches: int, size: int) -> dict[str, float]:
    """CPU µs per alert: the shard's process, its Postgres backends, and Ray's pickling. The
    batches go in as a gateway sends them, as columns."""
    prepared = [InputBatch.of(storm.batch(size)) for _ in range(batches)]
    sent = [pickle.dumps(batch) for batch in prepared]
    await shard.apply(storm.batch(size))  # the pool's connections are open
    backends = await _backends(shard)
    before_db, before = _cpu(backends), time.process_time()
    replies = [await shard.apply(batch) for batch in prepared]
    shard_s, db_s = time.process_time() - before, _cpu(backends) - before_db
    started = time.process_time()
    for batch, answer in zip(sent, replies):
        pickle.loads(batch)
        pickle.dumps(answer)
    wire_s = time.process_time() - started
    alerts = batches * size
    return {"shard": shard_s / alerts * 1e6, "postgres": db_s / alerts * 1e6, "wire": wire_s / alerts * 1e6}


async def _backends(shard: ServiceShard) -> list[psutil.Process]:
    """The Postgres server processes serving the shard's pool (on this machine)."""
    async with shard._database.connection() as conn:  # noqa: SLF001 - a benchmark looks inside
        pids = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return [psutil.Process(row["pid"]) for row in pids]


def _cpu(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="per batch size")
    parser.add_argument("--storm-batches", type=int, default=20, help="storm-sized batches to measure CPU over")
    parser.add_argument("--storm-batch", type=int, default=3000, help="alerts in each storm-sized batch")
    args = parser.parse_args()
    with fresh_database() as url:
        results, storm = asyncio.run(run(url, args.seconds, args.storm_batches, args.storm_batch))
    table = Table("batch size", "events/s", "ms per batch", title="ServiceShard write path")
    lines = ["| batch size | events/s | ms per batch |", "|---|---|---|"]
    for size, rate, ms in results:
        table.add_row(str(size), f"{rate:,.0f}", f"{ms:.2f}")
        lines.append(f"| {size} | {rate:,.0f} | {ms:.2f} |")
    console.print(table)
    lines.append("\nIn-process shard, one call at a time, each awaited to its commit (Postgres, fsync on).")
    cpu = Table("shard", "Postgres", "Ray's pickling", title=f"CPU µs per alert, batches of {args.storm_batch:,}")
    cpu.add_row(*(f"{storm[k]:.1f}" for k in ("shard", "postgres", "wire")))
    console.print(cpu)
    lines += [f"\nCPU per alert in {args.storm_batches} batches of {args.storm_batch:,} alerts over 1,000 open"
              f" incidents: shard {storm['shard']:.1f} µs, its Postgres backends {storm['postgres']:.1f} µs;"
              f" unpickling the events and pickling the replies as a Ray call would {storm['wire']:.1f} µs."]
    command = "python3 benchmarks/shard_batches.py" + ("" if args.seconds == 5.0 else f" --seconds {args.seconds}")
    record("ServiceShard write path (benchmarks/shard_batches.py)", command, "\n".join(lines))


if __name__ == "__main__":
    main()
