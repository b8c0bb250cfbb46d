"""Failover on a local multi-node Ray cluster, in one run on one machine:

1. ingestion throughput of the same Tocsin (4 shards, 2 gateway replicas) on a 1-node and
   on a 2-node local cluster: single PagerDuty events from wrk, `--connections` for
   `--seconds` each, after a warm-up; the nodes of the 2-node cluster share this machine's
   cores with each other, so what it shows is the cost of the multi-node layout, not a
   scale-out;
2. with `--incidents` open incidents, each waiting on a deadline (auto-resolve), on a head
   and two workers: a worker holding shards dies (all of its processes SIGKILLed at once);
   from its death to Ray declaring the node dead, to its shards restarted on the
   survivors, and to the first event for each lost shard answered 202. A probe sends one
   event to a service of every shard, every 50 ms. `--rounds` times, a fresh worker
   joining between rounds.

The clusters are ray.cluster_utils.Cluster in a process of their own (tests/cluster/
driver.py, which notices a dead node as the deployment files have the head do: after 3
missed health checks 0.5 s apart, where Ray's default is 5 checks 3 s apart), and Tocsin
runs as `tocsin up --address` on each. Load comes from wrk (apt-get install wrk). Figures
go to the screen and benchmarks/RESULTS.md.

    python3 benchmarks/failover.py [--seconds 15] [--incidents 10000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.ownership import shard_index  # noqa: E402
from benchmarks.harness import WrkResult, fresh_database, record, require_wrk, run_wrk  # noqa: E402
from benchmarks.ingest import single_event_script, with_progress  # noqa: E402
from tests.client import add_integration, trigger  # noqa: E402
from tests.cluster.cluster_process import Placement, RayClusterProcess, environment_for_another_ray  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.e2e.alert_payloads import AM_HEADERS, am_alert, am_notification  # noqa: E402
from tests.server import TocsinProcess  # noqa: E402

console = Console()
SHARDS = 4
TARGET_S = 5.0
PROBE_EVERY_S = 0.05
ALERTS_PER_REQUEST = 100
# A shard's row of `tocsin status`: name, node, pid, active services, open incidents, ...
SHARD_OPEN_INCIDENTS = re.compile(r"tocsin-shard-\d+\s*│[^│]*│[^│]*│[^│]*│\s*(\d+)")
SECTION = "Failover (benchmarks/failover.py)"


# -- Tocsin on a cluster -----------------------------------------------------------------------

@dataclass
class Deployment:
    cluster: RayClusterProcess
    tocsin: TocsinProcess
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def new_service(self, name: str, **fields: Any) -> tuple[str, str, str]:
        """(service id, PagerDuty key, Alertmanager key)."""
        created = httpx.post(f"{self.tocsin.base_url}/api/v1/services", json={"name": name, **fields},
                             headers=self.headers())
        created.raise_for_status()
        service_id = created.json()["id"]
        pagerduty = add_integration(self.tocsin.base_url, self.token, service_id, "pagerduty")
        alertmanager = add_integration(self.tocsin.base_url, self.token, service_id, "alertmanager")
        return service_id, pagerduty.key, alertmanager.key


@contextmanager
def deployment(name: str, *cluster_args: str, replicas: int) -> Iterator[Deployment]:
    """A fresh database, a local cluster and `tocsin up --address` on it; all stopped after."""
    home = Path(tempfile.mkdtemp(prefix=f"tocsin-failover-{name}-"))
    token = uuid.uuid4().hex
    with fresh_database() as database_url, RayClusterProcess(home / "driver.log", *cluster_args) as cluster:
        tocsin = TocsinProcess(
            port=free_port(), data_dir=home / "tocsin", inherit_env=False,
            env=environment_for_another_ray({
                "TOCSIN_DATABASE_URL": database_url, "TOCSIN_ADMIN_TOKEN": token,
                "TOCSIN_GATEWAY_REPLICAS": str(replicas), "TOCSIN_SHARD_TIMEOUT_S": "10"}),
            extra_args=("--address", cluster.address, "--shards", str(SHARDS)),
        ).start()
        try:
            yield Deployment(cluster, tocsin, token)
        finally:
            tocsin.stop()
    shutil.rmtree(home, ignore_errors=True)  # kept, with the logs, when something failed


# -- 1. throughput on one node and on two ------------------------------------------------------

def throughput(nodes: int, args: argparse.Namespace) -> tuple[WrkResult, dict[str, int]]:
    """wrk's result, and how many gateway replicas ran on the head and on workers."""
    layout = ("--workers", "0", "--head-cpus", "2") if nodes == 1 else (
        "--workers", "1", "--head-cpus", "1", "--worker-cpus", "1")
    with deployment(f"{nodes}-node", *layout, replicas=2) as stack:
        _, key, _ = stack.new_service("throughput")
        script = single_event_script(key, 1000)
        url = f"{stack.tocsin.base_url}/v2/enqueue"
        run_wrk(url, script, connections=args.connections, seconds=3)  # warm-up
        result = with_progress(f"{nodes}-node cluster: /v2/enqueue", args.seconds, lambda: run_wrk(
            url, script, connections=args.connections, seconds=args.seconds))
        placement = stack.cluster.placement()
        replicas = [a.node_id for a in placement.actors if a.name.startswith("SERVE_REPLICA::tocsin")]
        on_head = replicas.count(placement.head)
        return result, {"head": on_head, "workers": len(replicas) - on_head}


# -- 2. a node dies ---------------------------------------------------------------------------

@dataclass
class Round:
    lost_shards: list[int]
    lost_actors: int  # every actor of Tocsin's on the node, shards included
    noticed_s: float = float("nan")  # Ray declared the node dead
    restarted_s: dict[int, float] = field(default_factory=dict)  # a lost shard ALIVE again
    served_s: dict[int, float] = field(default_factory=dict)  # first probe sent after the death answered 202
    refused: int = 0  # probes of lost shards answered otherwise

    @property
    def recovery_s(self) -> float:
        return max(self.served_s.values(), default=float("nan"))


def open_incidents(stack: Deployment, count: int) -> list[tuple[str, str]]:
    """`count` open incidents, each with an auto-resolve deadline, spread over services of
    every shard; (service id, PagerDuty key) of one service per shard, for the probe."""
    services: list[tuple[str, str, str]] = []
    while len({shard_index(s[0], SHARDS) for s in services}) < SHARDS or len(services) < 2 * SHARDS:
        services.append(stack.new_service(f"open-{len(services)}", auto_resolve_minutes=24 * 60))
    bodies = [(services[n % len(services)][2],
               [am_alert(f"host-{first + i}.fleet:9100") for i in range(min(ALERTS_PER_REQUEST, count - first))])
              for n, first in enumerate(range(0, count, ALERTS_PER_REQUEST))]

    async def send_all() -> None:
        async with httpx.AsyncClient(base_url=stack.tocsin.base_url, timeout=120) as client:
            semaphore = asyncio.Semaphore(8)

            async def send(key: str, alerts: list[dict[str, Any]]) -> None:
                async with semaphore:
                    answer = await client.post(f"/integrations/alertmanager/{key}", json=am_notification(*alerts),
                                               headers=AM_HEADERS)
                    answer.raise_for_status()

            await asyncio.gather(*(send(key, alerts) for key, alerts in bodies))

    with_progress(f"opening {count:,} incidents", count / 1000, lambda: asyncio.run(send_all()))
    probes: dict[int, tuple[str, str]] = {}
    for service_id, pagerduty_key, _ in services:
        probes.setdefault(shard_index(service_id, SHARDS), (service_id, pagerduty_key))
    return [probes[i] for i in range(SHARDS)]


class NoVictim(RuntimeError):
    """No worker node holds a shard (Ray restarted the lost ones on the head): no round to run."""


def victim(placement: Placement) -> str:
    candidates = [w for w in placement.workers if placement.shards_on(w) and w not in placement.serve_nodes()]
    if not candidates:
        raise NoVictim("no worker node holds a shard")
    return max(candidates, key=lambda w: len(placement.shards_on(w)))


def one_round(stack: Deployment, probes: list[tuple[str, str]]) -> Round:
    placement = stack.cluster.placement()
    node = victim(placement)
    lost = sorted(placement.shards_on(node))
    before = {i: placement.actor(f"tocsin-shard-{i}").restarts for i in lost}
    result = Round(lost, sum(1 for a in placement.actors if a.node_id == node and a.name.startswith("tocsin-")))
    answers: list[tuple[int, float, float, int]] = []  # (shard, sent, answered, status)

    async def probe(client: httpx.AsyncClient, index: int, key: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = time.time()
            try:
                status = (await client.post("/v2/enqueue", json=trigger(key, "probe", summary="probe"))).status_code
            except httpx.TransportError:
                status = 0  # no answer: not served
            answers.append((index, sent, time.time(), status))
            await asyncio.sleep(PROBE_EVERY_S)

    async def kill_and_watch(stop: asyncio.Event) -> float:
        await asyncio.sleep(2.0)
        died = await asyncio.to_thread(stack.cluster.remove_node, node)
        deadline = died + 60
        while time.time() < deadline and not (len(result.served_s) == len(lost)):
            seen = await asyncio.to_thread(stack.cluster.placement)
            now = time.time() - died
            if node not in seen.workers and math.isnan(result.noticed_s):
                result.noticed_s = now
            for i in lost:
                shard = seen.actor(f"tocsin-shard-{i}")
                if shard.state == "ALIVE" and shard.restarts > before[i]:
                    result.restarted_s.setdefault(i, now)
            for index, sent, answered, status in answers:
                if index in lost and sent > died + 0.1 and status == 202:
                    result.served_s[index] = min(result.served_s.get(index, float("inf")), answered - died)
            await asyncio.sleep(0.1)
        stop.set()
        return died

    async def run() -> float:
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=stack.tocsin.base_url, timeout=60) as client:
            watcher = asyncio.create_task(kill_and_watch(stop))
            await asyncio.gather(*(probe(client, i, key, stop) for i, (_, key) in enumerate(probes)))
            return await watcher

    died = asyncio.run(run())
    result.refused = sum(1 for index, sent, _, status in answers if index in lost and sent > died and status != 202)
    return result


def failover(args: argparse.Namespace) -> tuple[list[Round], dict[str, Any]]:
    with deployment("3-node", replicas=1) as stack:
        probes = open_incidents(stack, args.incidents)
        rounds = []
        for n in range(args.rounds):
            if n:
                stack.cluster.add_node()
            try:
                rounds.append(one_round(stack, probes))
            except NoVictim:
                console.print(f"round {n + 1}: no worker node holds a shard any more; {n} round(s) run")
                break
            console.print(f"round {n + 1}: {rounds[-1]}")
        status = subprocess.run([*TocsinProcess.command(), "status", "--data-dir", str(stack.tocsin.data_dir)],
                                env=stack.tocsin.env, capture_output=True, text=True, timeout=120).stdout
        console.print(status)
        checks = {
            "open_incidents": _query(stack, "SELECT count(*) FROM incidents WHERE status <> 'resolved'"),
            "with_deadline": _query(stack, "SELECT count(*) FROM incidents WHERE status <> 'resolved'"
                                           " AND auto_resolve_at IS NOT NULL"),
            "in_shard_memory": sum(int(n) for n in re.findall(SHARD_OPEN_INCIDENTS, status)),
        }
    return rounds, checks


def _query(stack: Deployment, sql: str) -> int:
    import asyncpg

    async def run() -> int:
        conn = await asyncpg.connect(stack.tocsin.env["TOCSIN_DATABASE_URL"])
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    return asyncio.run(run())


# -- report -----------------------------------------------------------------------------------

def report(one: tuple[WrkResult, dict[str, int]], two: tuple[WrkResult, dict[str, int]], rounds: list[Round],
           checks: dict[str, Any], args: argparse.Namespace) -> str:
    (single, single_replicas), (double, double_replicas) = one, two
    recoveries = [r.recovery_s for r in rounds]
    worst = max(recoveries)
    rows = [
        ("ingestion, 1-node cluster", f"{single.requests_per_s:,.0f} req/s",
         f"p50 {single.p50_ms:.1f} ms, p99 {single.p99_ms:.1f} ms",
         f"gateway replicas: {single_replicas['head']} on the head; non-2xx {single.non_2xx}"),
        ("ingestion, 2-node cluster", f"{double.requests_per_s:,.0f} req/s",
         f"p50 {double.p50_ms:.1f} ms, p99 {double.p99_ms:.1f} ms",
         f"{double.requests_per_s / single.requests_per_s:.2f}× the 1-node figure; gateway replicas: "
         f"{double_replicas['head']} on the head, {double_replicas['workers']} on the worker; "
         f"non-2xx {double.non_2xx}"),
        (f"node death → its shards serving again, {args.incidents:,} open incidents",
         f"median {statistics.median(recoveries):.1f} s, worst {worst:.1f} s", f"{len(rounds)} rounds",
         f"target < {TARGET_S:.0f} s: {'met' if worst < TARGET_S else 'NOT met'}; after the rounds, "
         f"{checks['open_incidents']:,} open incidents in Postgres ({checks['with_deadline']:,} with a deadline), "
         f"{checks['in_shard_memory']:,} in the shards' memory"),
    ]
    for n, r in enumerate(rounds, 1):
        restarted = max(r.restarted_s.values(), default=float("nan"))
        rows.append((f"round {n}: shards {', '.join(map(str, r.lost_shards))} lost with "
                     f"{r.lost_actors} of Tocsin's actors", f"{r.recovery_s:.1f} s",
                     f"node declared dead {r.noticed_s:.1f} s, shards restarted {restarted:.1f} s",
                     f"probes of lost shards refused: {r.refused}"))
    table = Table("what", "result", "detail", "check", title="Failover")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    lines = ["| what | result | detail | check |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines.append(
        f"\nwrk with 2 threads, {args.connections} connections, {args.seconds:.0f} s after a 3 s warm-up; "
        f"4 shards and 2 gateway replicas on both clusters (the 1-node one: a head of 2 CPUs; the 2-node one: "
        f"a head and a worker of 1 CPU each), all on this machine. Failover: a head of 1 CPU (the gateway) and "
        f"two workers of none, 4 shards; the worker holding the most shards dies with all of its processes "
        f"killed at once; Ray notices after 3 missed health checks 0.5 s apart, as ray-cluster.yaml and the "
        f"RayService set them (Ray's default is 5 checks 3 s apart). Serving again: the first event sent to a service of each lost shard after the death "
        f"that was answered 202 (durable), probed every {PROBE_EVERY_S * 1000:.0f} ms per shard.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5 s runs, 2,000 incidents, one round")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.incidents, args.rounds = 5, 2000, 1
    require_wrk()
    one = throughput(1, args)
    two = throughput(2, args)
    rounds, checks = failover(args)
    command = "python3 benchmarks/failover.py" + (" --quick" if args.quick else "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v != parser.get_default(k)))
    record(SECTION, command, report(one, two, rounds, checks, args))
    console.print(f"written to {Path('benchmarks/RESULTS.md')}")


if __name__ == "__main__":
    main()
