"""Ingestion benchmark (PagerDuty Events API v2 over HTTP), in one run on one machine:

1. single-event requests, 32 connections, against Tocsin's /v2/enqueue and against a no-op
   FastAPI endpoint deployed beside it on the same Serve set-up: requests/s, p50, p99, ratio;
2. a storm: 100,000 triggers over 1,000 dedup keys across 10 services, as fast as Tocsin takes
   them; then the database must hold exactly 1,000 open incidents whose occurrences sum to
   100,000, with no 5xx answered.

Load comes from wrk (apt-get install wrk). Figures go to the screen and benchmarks/RESULTS.md.

    python3 benchmarks/ingest.py [--seconds 15] [--storm-events 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.shard import RETRY_WINDOW  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    LUA_TALLY,
    LUA_THREADS,
    Stack,
    WrkResult,
    add_figures_option,
    record_or_write,
    require_wrk,
    run_wrk,
    tocsin_stack,
    write_lua,
)

console = Console()
THREADS = 2
TARGET_RATIO, TARGET_P99_MS = 0.8, 100.0
RETRY_WINDOW_S = RETRY_WINDOW.total_seconds() + 1


def noop_app() -> Any:
    from fastapi import FastAPI
    from ray import serve

    api = FastAPI()

    @serve.deployment(max_ongoing_requests=2000, ray_actor_options={"num_cpus": 0.25})
    @serve.ingress(api)
    class Noop:
        @api.post("/")
        async def accept(self) -> dict[str, str]:
            return {"status": "success", "message": "Event processed"}

    return Noop.bind()


def single_event_script(key: str, keys: int) -> Path:
    return write_lua(f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{{"routing_key":"{key}","event_action":"trigger","dedup_key":"single-' ..
    (n % {keys}) .. '","payload":{{"summary":"CPU above 90%","source":"web-1","severity":"critical"}}}}')
end
""")


def storm_script(keys: list[str], events: int, dedup_keys: int) -> Path:
    """Exactly `events` triggers, split between wrk's threads; each thread stops once all of
    its share is answered (connections still open send GET /healthz, which stores nothing)."""
    share = events // THREADS
    key_table = ", ".join(f'"{k}"' for k in keys)
    return write_lua(f"""
local keys = {{{key_table}}}
{LUA_THREADS}
function init(args)
  primed, sent, accepted, client_errors, server_errors = false, 0, 0, 0, 0
end
function request()
  -- wrk builds one request more than it sends (seen: the first trigger went missing);
  -- let that one be a GET /healthz, which stores nothing.
  if not primed then primed = true; return wrk.format("GET", "/healthz") end
  if sent >= {share} then return wrk.format("GET", "/healthz") end
  local i = (id - 1) * {share} + sent
  sent = sent + 1
  local k = i % {dedup_keys}
  local body = '{{"routing_key":"' .. keys[(k % #keys) + 1] .. '","event_action":"trigger","dedup_key":"storm-' ..
    k .. '","payload":{{"summary":"storm alert ' .. k .. '","source":"storm","severity":"error"}}}}'
  return wrk.format("POST", "/v2/enqueue", {{["Content-Type"] = "application/json"}}, body)
end
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1
  elseif status >= 500 then server_errors = server_errors + 1
  elseif status >= 400 then client_errors = client_errors + 1 end
  if accepted + client_errors + server_errors >= {share} then wrk.thread:stop() end
end
{LUA_TALLY}""")


def with_progress(label: str, seconds: float, work: Callable[[], Any],
                  progress_of: Callable[[], float] | None = None) -> Any:
    """Run `work` on a thread with a progress bar (by time, or by `progress_of` in 0..1)."""
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(value=work()), daemon=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(label, total=1.0)
        start = time.monotonic()
        thread.start()
        while thread.is_alive():
            done = progress_of() if progress_of else (time.monotonic() - start) / seconds
            bar.update(task, completed=min(done, 0.99))
            thread.join(0.5)
        bar.update(task, completed=1.0)
    if "value" not in outcome:
        raise RuntimeError(f"{label} failed")
    return outcome["value"]


def single_event(stack: Stack, key: str, seconds: float, connections: int) -> tuple[WrkResult, WrkResult]:
    tocsin_script = single_event_script(key, 1000)
    noop_script = single_event_script(key, 1000)  # the same bodies, for the same parsing work
    for url, script in ((f"{stack.base_url}/v2/enqueue", tocsin_script), (f"{stack.base_url}/noop/", noop_script)):
        run_wrk(url, script, connections=connections, seconds=3)  # warm up both
    noop = with_progress("no-op Serve endpoint", seconds, lambda: run_wrk(
        f"{stack.base_url}/noop/", noop_script, connections=connections, seconds=seconds))
    stack.settle(RETRY_WINDOW_S)
    tocsin = with_progress("Tocsin /v2/enqueue", seconds, lambda: run_wrk(
        f"{stack.base_url}/v2/enqueue", tocsin_script, connections=connections, seconds=seconds))
    return tocsin, noop


def storm(stack: Stack, services: list[tuple[str, str]], events: int, dedup_keys: int,
          connections: int) -> dict[str, Any]:
    service_ids = [s for s, _ in services]
    script = storm_script([k for _, k in services], events, dedup_keys)

    def stored() -> float:  # every trigger of the storm is one occurrence of its incident
        return stack.occurrences(service_ids) / events

    # wrk stops by itself once every trigger is answered; should an answer never come (a
    # dropped connection), it is stopped once the database holds them all.
    result = with_progress(f"storm of {events:,} triggers", 0, lambda: run_wrk(
        stack.base_url, script, connections=connections, seconds=900, threads=THREADS,
        stop_when=lambda: stored() >= 1.0), stored)
    line = next(l for l in result.output.splitlines() if l.startswith("STORM"))
    counts = dict(part.split("=") for part in line.split()[1:])
    incidents = stack.query(
        "SELECT count(*) FILTER (WHERE status <> 'resolved') AS open, count(*) AS total,"
        " coalesce(sum(occurrences), 0) AS occurrences FROM incidents WHERE service_id = ANY($1::uuid[])",
        service_ids)[0]
    alerts, first, last = stack.query(
        "SELECT count(*), min(received_at), max(received_at) FROM alerts WHERE service_id = ANY($1::uuid[])",
        service_ids)[0]
    accepted = int(counts["accepted"])
    return {
        "accepted": accepted, "client_errors": int(counts["client_errors"]),
        "server_errors": int(counts["server_errors"]), "seconds": (last - first).total_seconds(),
        "alerts_per_s": alerts / (last - first).total_seconds(), "open_incidents": incidents["open"],
        "incidents": incidents["total"], "occurrences": incidents["occurrences"], "alerts_stored": alerts,
        "lost": max(0, accepted - alerts), "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
    }


def figures(tocsin: WrkResult, noop: WrkResult, flood: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The run's headline figures, for comparing runs (benchmarks/sitting.py)."""
    exact = (flood["open_incidents"] == args.dedup_keys and flood["occurrences"] == args.storm_events
             and flood["lost"] == 0 and flood["server_errors"] == 0)
    return {
        "single": {"tocsin_per_s": tocsin.requests_per_s, "noop_per_s": noop.requests_per_s,
                   "ratio": tocsin.requests_per_s / noop.requests_per_s, "p99_ms": tocsin.p99_ms},
        "storm": {k: flood[k] for k in ("alerts_per_s", "seconds", "p50_ms", "p99_ms")}, "exact": exact,
    }


def report(tocsin: WrkResult, noop: WrkResult, flood: dict[str, Any], args: argparse.Namespace) -> str:
    ratio = tocsin.requests_per_s / noop.requests_per_s
    expected_open = args.dedup_keys
    rows = [
        ("no-op FastAPI endpoint on the same Serve", f"{noop.requests_per_s:,.0f} req/s",
         f"p50 {noop.p50_ms:.1f} ms, p99 {noop.p99_ms:.1f} ms", "baseline"),
        ("Tocsin POST /v2/enqueue (durable)", f"{tocsin.requests_per_s:,.0f} req/s",
         f"p50 {tocsin.p50_ms:.1f} ms, p99 {tocsin.p99_ms:.1f} ms",
         f"{ratio:.2f}× no-op (target ≥ {TARGET_RATIO}×: {'met' if ratio >= TARGET_RATIO else 'NOT met'}); "
         f"p99 target < {TARGET_P99_MS:.0f} ms: {'met' if tocsin.p99_ms < TARGET_P99_MS else 'NOT met'}; "
         f"non-2xx {tocsin.non_2xx}, socket errors {tocsin.socket_errors}"),
        (f"storm: {args.storm_events:,} triggers, {args.dedup_keys:,} keys, {args.services} services",
         f"{flood['alerts_per_s']:,.0f} alerts/s ({flood['seconds']:.0f} s)", f"p50 {flood['p50_ms']:.1f} ms, p99 {flood['p99_ms']:.1f} ms",
         f"{flood['open_incidents']:,} open incidents (expected {expected_open:,}), occurrences sum "
         f"{flood['occurrences']:,} (expected {args.storm_events:,}), 202s {flood['accepted']:,}, "
         f"stored {flood['alerts_stored']:,}, lost {flood['lost']}, 5xx {flood['server_errors']}, "
         f"4xx {flood['client_errors']}"),
    ]
    table = Table("what", "throughput", "latency", "check", title="Ingestion")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    lines = ["| what | throughput | latency | check |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines.append(f"\n{args.connections} connections, wrk with {THREADS} threads, {args.seconds:.0f} s per "
                 f"single-event run after a 3 s warm-up; {args.shards} shards, 1 gateway replica; "
                 "Postgres with fsync and synchronous_commit on.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--storm-events", type=int, default=100_000)
    parser.add_argument("--dedup-keys", type=int, default=1000)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--port", type=int, default=8531)
    add_figures_option(parser)
    args = parser.parse_args()
    require_wrk()
    # The operator's tuning, read before the stack adds variables of its own (its HAProxy's).
    tuning = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("TOCSIN_"))
    with tocsin_stack(args.port, shards=args.shards, extra_apps={"/noop": noop_app()}) as stack:
        _, single_key = stack.new_service("single-event")
        tocsin, noop = single_event(stack, single_key, args.seconds, args.connections)
        services = [stack.new_service(f"storm-{n}") for n in range(args.services)]
        flood = storm(stack, services, args.storm_events, args.dedup_keys, args.connections)
    command = "python3 benchmarks/ingest.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v != parser.get_default(k))
    markdown = report(tocsin, noop, flood, args)
    record_or_write(args.figures, "Ingestion (benchmarks/ingest.py)", f"{tuning} {command}".strip(), markdown,
                    lambda: figures(tocsin, noop, flood, args))


if __name__ == "__main__":
    main()
