"""Alert storm, in one run on one machine:

1. Alertmanager-format batches of 100 alerts, the same wrk driver, connections and duration,
   against Tocsin's Alertmanager webhook (/integrations/alertmanager/{key}: 200 only once the
   shards have committed every alert) and against a real Prometheus Alertmanager's own
   ingestion API (POST /api/v2/alerts), started here on a free loopback port: alerts/s
   accepted by each, the ratio, p50/p99 per request, non-2xx answers; and, for Tocsin's run, the
   CPU time of each of its processes over the run (benchmarks/process_cpu.py) per alert stored:
   the gateway replica, the shards, the Postgres backends, the other actors;
2. a storm with paging on: `--alerts` alerts in batches of 100 over `--fingerprints`
   distinct alerts, as fast as Tocsin answers, into a service whose escalation policy pages
   `--people` people at once by webhook through the webhook ChannelActor to a local receiver;
   for each new incident, the time from its acceptance (created_at) to its first page reaching
   the receiver (p50, p99), and exactly one page per incident and person, nothing lost;
3. the same, smaller and paced (`--paced-alerts` at about `--paced-rate` alerts/s), for how
   the first page fares when the channel keeps up.

Load comes from wrk; Alertmanager from `apt-get install prometheus-alertmanager`. Figures go
to the screen and benchmarks/RESULTS.md.

    python3 benchmarks/storm.py [--seconds 15] [--connections 32] [--alerts 100000] [--people 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
from benchmarks.ingest import RETRY_WINDOW_S, with_progress  # noqa: E402
from benchmarks.process_cpu import ALERT_PATH, ProcessCpu, per_alert  # noqa: E402
from benchmarks.storm_rules import rules_in_place  # noqa: E402
from tests.e2e.alert_payloads import AM_HEADERS, am_alert, am_notification  # noqa: E402
from tests.fakes.http_receiver import HttpReceiver  # noqa: E402

console = Console()
BATCH = 100
THREADS = 2
TARGET_RATIO = 0.33  # of Alertmanager's alerts/s
TARGET_CPU_US = 60.0  # CPU per durable alert over the alert path (gateway, shards, Postgres)
TARGET_P99_MS = {"storm": 250.0, "paced storm": 100.0}  # new incident to first page
RULES_TARGET = 0.9  # throughput with the rules in place, of that without
THROTTLE_OFF = 1_000_000  # messages per person per window: more than any run sends
SECTION = "Storm (benchmarks/storm.py)"


# -- the alerts ---------------------------------------------------------------------------

def alerts(count: int, fleet: str) -> list[dict[str, Any]]:
    """`count` distinct firing alerts (one instance each of a fleet), as Alertmanager sends them."""
    return [am_alert(f"{fleet}-{n}.checkout.svc:8080") for n in range(count)]


def webhook_body(batch: list[dict[str, Any]]) -> str:
    """What Alertmanager POSTs to a webhook receiver (Tocsin's integration)."""
    return json.dumps(am_notification(*batch), separators=(",", ":"))


def api_body(batch: list[dict[str, Any]]) -> str:
    """What a Prometheus server POSTs to Alertmanager's /api/v2/alerts."""
    keep = ("labels", "annotations", "startsAt", "generatorURL")
    return json.dumps([{k: a[k] for k in keep} for a in batch], separators=(",", ":"))


def lua_string(text: str) -> str:
    assert "]==]" not in text
    return f"[==[{text}]==]"


def cycling_script(path: str, bodies: list[str]) -> Path:
    """POST `bodies` in turn; wrk's threads start half-way apart in the cycle."""
    table = ",\n".join(lua_string(b) for b in bodies)
    return write_lua(f"""
local bodies = {{{table}}}
local next_id = 0
function setup(thread) thread:set("offset", next_id * math.floor(#bodies / {THREADS})); next_id = next_id + 1 end
function init(args) n = offset end
function request()
  n = n + 1
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json"}}, bodies[(n % #bodies) + 1])
end
""")


def storm_script(path: str, fleet: list[dict[str, Any]], requests: int, pause_ms: float) -> Path:
    """Exactly `requests` notifications of BATCH alerts. Request i carries alert i, new, and
    the BATCH - 1 before it, still firing (the first requests repeat the few there are), so new
    incidents open all through the storm. wrk's threads take every other i; each connection
    waits `pause_ms` on average before each request, at random so that the connections do not
    send in step (0: as fast as answered). A thread that has sent its share sends a slow
    GET /healthz (stores nothing) until its answers are in."""
    alerts_table = ",\n".join(lua_string(json.dumps(a, separators=(",", ":"))) for a in fleet)
    shell = {**am_notification(*fleet[:2]), "alerts": ["ALERTS"]}
    head, tail = json.dumps(shell, separators=(",", ":")).split('"ALERTS"')
    return write_lua(f"""
local alerts = {{{alerts_table}}}
local head, tail = {lua_string(head)}, {lua_string(tail)}
local headers = {{["Content-Type"] = "application/json", ["User-Agent"] = "{AM_HEADERS['User-Agent']}"}}
{LUA_THREADS}
function init(args)
  primed, k, accepted, client_errors, server_errors = false, 0, 0, 0, 0
  share = math.floor(({requests} - id + {THREADS}) / {THREADS})
end
function delay()
  if k >= share then return 100 end
  return math.random() * {2 * pause_ms:.0f}
end
function request()
  -- wrk builds one request more than it sends: let that one be a GET, which stores nothing.
  if not primed then primed = true; return wrk.format("GET", "/healthz") end
  if k >= share then return wrk.format("GET", "/healthz") end
  local i = (id - 1) + k * {THREADS}
  k = k + 1
  local parts = {{}}
  for j = 0, {BATCH - 1} do
    local f = i - j
    if f < 0 then f = f % (i + 1) end
    parts[j + 1] = alerts[(f % #alerts) + 1]
  end
  return wrk.format("POST", "{path}", headers, head .. table.concat(parts, ",") .. tail)
end
function response(status, headers, body)
  if status == 200 and string.find(body, '"alerts":', 1, true) then accepted = accepted + 1
  elseif status >= 500 then server_errors = server_errors + 1
  elseif status >= 400 then client_errors = client_errors + 1 end
  if accepted + client_errors + server_errors >= share then wrk.thread:stop() end
end
{LUA_TALLY}""")


# -- a real Alertmanager ------------------------------------------------------------------

class Alertmanager:
    """Prometheus Alertmanager on a free loopback port, with its own config and storage dir,
    routing every alert to `webhook_url`; stopped by its pid."""

    def __init__(self, webhook_url: str) -> None:
        self.binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if self.binary is None:
            sys.exit("the storm benchmark runs a real Alertmanager: apt-get install prometheus-alertmanager")
        self.webhook_url = webhook_url
        self.url = ""
        self.version = ""
        self._dir = Path(tempfile.mkdtemp(prefix="tocsin-storm-am-"))
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Alertmanager:
        port = free_port()
        config = self._dir / "alertmanager.yml"
        config.write_text(f"""route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {self.webhook_url}
        send_resolved: false
""")
        with open(self._dir / "alertmanager.log", "wb") as log:  # the process keeps its own copy
            self._process = subprocess.Popen(
                [str(self.binary), f"--config.file={config}", f"--storage.path={self._dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
                stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Alertmanager exited: {(self._dir / 'alertmanager.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):  # not listening yet
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    status = httpx.get(f"{self.url}/api/v2/status", timeout=5).json()
                    self.version = status["versionInfo"]["version"]
                    return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError("Alertmanager was not ready within 30 s")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- 1. side by side ----------------------------------------------------------------------

def accepted_per_s(result: WrkResult) -> float:
    """Alerts answered 2xx per second of the run."""
    seconds = result.requests / result.requests_per_s
    return (result.requests - result.non_2xx) * BATCH / seconds


def side_by_side(stack: Stack, am: Alertmanager, args: argparse.Namespace) -> dict[str, Any]:
    """Each target warmed up for 3 s on alerts of its own, then measured on fresh ones. With
    `--rules`, Tocsin is measured a second time through a router and service rules
    (benchmarks/storm_rules.py), into a service of its own; both Tocsin runs then start from
    a CHECKPOINT, so that neither pays for the other's writes."""
    runs: dict[str, Any] = {}
    cpu: dict[str, dict[str, float]] = {}
    _, warm_key = stack.new_service("storm-warm-up", "alertmanager")
    service_id, key = stack.new_service("storm-side-by-side", "alertmanager")
    targets = [("alertmanager", am.url, "/api/v2/alerts", api_body, ""),
               ("tocsin", stack.base_url, "/integrations/alertmanager/{key}", webhook_body, key)]
    if args.rules:
        ruled_id, _ = stack.new_service("storm-with-rules", "alertmanager")
        others = [stack.new_service(f"storm-team-{n}", "alertmanager")[0] for n in range(3)]
        router_key = rules_in_place(stack.base_url, stack.headers(), ruled_id, args.rules, others)
        targets.append(("tocsin_rules", stack.base_url, "/integrations/alertmanager/{key}", webhook_body, router_key))
    for name, url, path, body, measured_key in targets:
        for fleet, seconds in (("warm", 3.0), ("web", args.seconds)):
            fleet_alerts = alerts(args.fingerprints, fleet)
            bodies = [body(fleet_alerts[i:i + BATCH]) for i in range(0, len(fleet_alerts), BATCH)]
            script = cycling_script(path.format(key=warm_key if fleet == "warm" else measured_key), bodies)
            if name != "alertmanager" and fleet == "web":
                stack.settle(RETRY_WINDOW_S)
                if args.rules:
                    stack.checkpoint()
            sampler = ProcessCpu(partial(backend_pids, stack))
            if name != "alertmanager" and fleet == "web":
                sampler.start()
            runs[name] = with_progress(f"{name} {'warm-up' if fleet == 'warm' else 'measured'}", seconds,
                                       partial(run_wrk, url, script, connections=args.connections, seconds=seconds))
            if name != "alertmanager" and fleet == "web":
                sampler.stop()
                cpu[name] = sampler.seconds()
    per_request = min(BATCH, args.fingerprints)  # the alerts in each request's body
    side = {**runs, **tally(stack, service_id, runs["tocsin"], per_request)}
    side["cpu"] = per_alert(cpu["tocsin"], side["stored"])
    if args.rules:
        side["rules"] = tally(stack, ruled_id, runs["tocsin_rules"], per_request)
        side["rules_cpu"] = per_alert(cpu["tocsin_rules"], side["rules"]["stored"])
    return side


def backend_pids(stack: Stack) -> list[int]:
    """The Postgres backends connected to the stack's database, but the one asking."""
    rows = stack.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
    return [row[0] for row in rows]


def tally(stack: Stack, service_id: str, run: WrkResult, per_request: int) -> dict[str, int]:
    """What a measured Tocsin run left in its service, against what it was answered."""
    stored = stack.query("SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service_id)[0][0]
    incidents = stack.query("SELECT count(*) FROM incidents WHERE service_id = $1::uuid", service_id)[0][0]
    return {"stored": stored, "incidents": incidents, "answered": (run.requests - run.non_2xx) * per_request}


# -- 2. the storm with paging ------------------------------------------------------------

def paging_service(stack: Stack, hooks_url: str, people: int, name: str) -> tuple[str, str]:
    """A service whose policy pages `people` people of its own at once, each by a verified
    webhook (`hooks_url`/hook/`name`/n) with a 0-minute high-urgency rule; one level, which
    escalates only after an hour."""
    with httpx.Client(base_url=stack.base_url, headers=stack.headers(), timeout=30) as api:
        def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = api.post(path, json=body)
            if response.status_code != 201:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            return response.json()  # type: ignore[no-any-return]

        targets = []
        for n in range(people):
            user = created("/api/v1/users", {"name": f"Responder {n}", "email": f"{name}.{n}@example.com"})
            method = created(f"/api/v1/users/{user['id']}/contact-methods",
                             {"kind": "webhook", "address": f"{hooks_url}/hook/{name}/{n}", "verified": True})
            created(f"/api/v1/users/{user['id']}/notification-rules",
                    {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
            targets.append({"type": "user", "id": user["id"]})
        policy = created("/api/v1/escalation-policies",
                         {"name": name, "levels": [{"delay_minutes": 60, "targets": targets}]})
        service = created("/api/v1/services", {"name": name, "urgency": "high",
                                                "escalation_policy_id": policy["id"]})
        integration = created(f"/api/v1/services/{service['id']}/integrations", {"type": "alertmanager"})
    return service["id"], integration["key"]


def pages_of(hooks: HttpReceiver, name: str) -> list[tuple[int, str, float]]:
    """(incident id, person's hook, when received) of each page of storm `name`."""
    prefix = f"/hook/{name}/"
    return [(int(r.json()["incident_id"]), r.path, r.at) for r in list(hooks.requests) if r.path.startswith(prefix)]


def storm(stack: Stack, hooks: HttpReceiver, args: argparse.Namespace, name: str, total: int, fingerprints: int,
          rate: float) -> dict[str, Any]:
    """`total` alerts over `fingerprints` into a paging service, as fast as answered (`rate` 0)
    or at about `rate` alerts/s; then every page awaited."""
    service_id, key = paging_service(stack, hooks.url, args.people, name)
    requests = total // BATCH
    expected_incidents = min(fingerprints, requests)
    expected_pages: int = expected_incidents * args.people
    pause_ms = args.connections * 1000 * BATCH / rate if rate else 0.0
    script = storm_script(f"/integrations/alertmanager/{key}", alerts(fingerprints, name), requests, pause_ms)

    def stored() -> float:  # every alert of the storm is one occurrence of its incident
        return stack.occurrences([service_id]) / (requests * BATCH)

    result = with_progress(f"{name}: {requests * BATCH:,} alerts", 0, lambda: run_wrk(
        stack.base_url, script, connections=args.connections, seconds=900, threads=THREADS,
        stop_when=lambda: stored() >= 1.0), stored)
    line = next(l for l in result.output.splitlines() if l.startswith("STORM"))
    counts = {k: int(float(v)) for k, v in (part.split("=") for part in line.split()[1:])}

    def delivered() -> float:
        prefix = f"/hook/{name}/"
        return float(sum(1 for r in list(hooks.requests) if r.path.startswith(prefix))) / expected_pages

    deadline = time.monotonic() + 300
    with_progress(f"{name}: {expected_pages:,} pages", 0, lambda: wait_until(
        lambda: delivered() >= 1.0 or time.monotonic() > deadline), delivered)
    time.sleep(3)  # a page sent twice would arrive now
    pages = pages_of(hooks, name)
    first: dict[int, float] = {}
    for incident_id, _, at in pages:
        first[incident_id] = min(at, first.get(incident_id, at))
    incidents = stack.query("SELECT id, extract(epoch FROM created_at)::float8 AS at, occurrences FROM incidents"
                            " WHERE service_id = $1::uuid", service_id)
    latency = sorted((first[i["id"]] - i["at"]) * 1000 for i in incidents if i["id"] in first)
    queued = sorted(float(r[0]) * 1000 for r in stack.query(
        "SELECT extract(epoch FROM min(n.created_at) - i.created_at)::float8 FROM notifications n"
        " JOIN incidents i ON i.id = n.incident_id WHERE n.service_id = $1::uuid GROUP BY i.id", service_id))
    times = sorted(at for _, _, at in pages)
    alerts_stored, span = stack.query(
        "SELECT count(*), extract(epoch FROM max(received_at) - min(received_at))::float8 FROM alerts"
        " WHERE service_id = $1::uuid", service_id)[0]
    statuses = dict(stack.query("SELECT status, count(*) FROM notifications WHERE service_id = $1::uuid"
                                " GROUP BY status", service_id))
    return {
        **counts, "name": "paced storm" if rate else "storm", "rate": rate, "fingerprints": fingerprints, "alerts": requests * BATCH,
        "alerts_stored": alerts_stored, "lost": max(0, counts["accepted"] * BATCH - alerts_stored),
        "alerts_per_s": alerts_stored / max(span, 1e-6), "seconds": span, "incidents": len(incidents),
        "occurrences": sum(i["occurrences"] for i in incidents), "expected_incidents": expected_incidents,
        "expected_pages": expected_pages, "pages": len(pages), "distinct_pages": len({(i, p) for i, p, _ in pages}),
        "unpaged": sum(1 for i in incidents if i["id"] not in first), "notifications": statuses,
        "p50": percentile(latency, 0.50), "p99": percentile(latency, 0.99), "max": latency[-1] if latency else 0.0,
        "queued_p50": percentile(queued, 0.50), "queued_p99": percentile(queued, 0.99),
        "delivery_s": times[-1] - times[0] if times else 0.0,
        "pages_per_s": (len(times) - 1) / max(times[-1] - times[0], 1e-6) if times else 0.0,
    }


def wait_until(done: Any) -> None:
    while not done():
        time.sleep(0.5)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: the smallest value at least a fraction `q` of the values are at or below
    (for 100 values, p99 is the 99th, not the 100th, which is the max the table shows too)."""
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)] if ordered else float("nan")


# -- the report ---------------------------------------------------------------------------

def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(side: dict[str, Any], storms: list[dict[str, Any]], am: Alertmanager, am_notified: int,
           args: argparse.Namespace) -> tuple[str, bool]:
    """The table (printed) and the section's markdown; whether nothing was lost or repeated."""
    tocsin, alertmanager = side["tocsin"], side["alertmanager"]
    ratio = accepted_per_s(tocsin) / accepted_per_s(alertmanager)
    rows = [
        (f"Alertmanager {am.version} POST /api/v2/alerts (in memory)",
         f"{accepted_per_s(alertmanager):,.0f} alerts/s",
         f"p50 {alertmanager.p50_ms:.1f} ms, p99 {alertmanager.p99_ms:.1f} ms",
         f"baseline; non-2xx {alertmanager.non_2xx}, socket errors {alertmanager.socket_errors}; "
         f"it notified its webhook receiver {am_notified} times"),
        ("Tocsin POST /integrations/alertmanager/{key} (durable)", f"{accepted_per_s(tocsin):,.0f} alerts/s",
         f"p50 {tocsin.p50_ms:.1f} ms, p99 {tocsin.p99_ms:.1f} ms",
         f"{ratio:.3f}× Alertmanager (target ≥ {TARGET_RATIO}×: {met(ratio >= TARGET_RATIO)}); "
         f"non-2xx {tocsin.non_2xx}, socket errors {tocsin.socket_errors}; {side['incidents']:,} incidents opened; "
         f"{side['stored']:,} alerts stored, {side['answered']:,} answered 200"),
    ]
    correct = side["stored"] >= side["answered"]
    if args.rules:
        ruled, tally_ = side["tocsin_rules"], side["rules"]
        kept = accepted_per_s(ruled) / accepted_per_s(tocsin)
        rows.append((f"Tocsin through a router with {args.rules} routing and service rules (durable)",
                     f"{accepted_per_s(ruled):,.0f} alerts/s", f"p50 {ruled.p50_ms:.1f} ms, p99 {ruled.p99_ms:.1f} ms",
                     f"{kept:.3f}× Tocsin without rules (target ≥ {RULES_TARGET}×: {met(kept >= RULES_TARGET)}); "
                     f"non-2xx {ruled.non_2xx}, socket errors {ruled.socket_errors}; "
                     f"{tally_['incidents']:,} incidents opened; {tally_['stored']:,} alerts stored, "
                     f"{tally_['answered']:,} answered 200"))
        correct = correct and tally_["stored"] >= tally_["answered"]
    rows.append(cpu_row("Tocsin", side["cpu"]))
    if args.rules:
        rows.append(cpu_row(f"Tocsin with {args.rules} rules", side["rules_cpu"]))
    for s in storms:
        exact = s["pages"] == s["distinct_pages"] == s["expected_pages"]
        sound = s["lost"] == 0 and s["server_errors"] == 0
        correct = correct and exact and sound and s["incidents"] == s["expected_incidents"]
        pace = f"paced at about {s['rate']:,.0f} alerts/s" if s["rate"] else "as fast as answered"
        rows += [
            (f"{s['name']} with paging: {s['alerts']:,} alerts over {s['fingerprints']:,} fingerprints, {pace}",
             f"{s['alerts_per_s']:,.0f} alerts/s ({s['seconds']:.1f} s)",
             f"new incident → first page at the receiver: p50 {s['p50']:,.0f} ms, p99 {s['p99']:,.0f} ms, "
             f"max {s['max']:,.0f} ms (of which until the shard's batch that pages it: "
             f"p50 {s['queued_p50']:,.0f} ms, p99 {s['queued_p99']:,.0f} ms)",
             f"p99 target < {TARGET_P99_MS[s['name']]:.0f} ms: {met(s['p99'] < TARGET_P99_MS[s['name']])}; "
             f"{s['incidents']:,} incidents (expected {s['expected_incidents']:,}), "
             f"occurrences {s['occurrences']:,}, unpaged {s['unpaged']}"),
            (f"{s['name']}: pages, {args.people} people per incident by webhook",
             f"{s['pages_per_s']:,.0f} pages/s delivered ({s['delivery_s']:.1f} s); due at "
             f"{s['incidents'] * args.people / max(s['seconds'], 1e-6):,.0f}/s during the storm",
             f"{s['pages']:,} received, {s['distinct_pages']:,} distinct (incident, person)",
             f"expected exactly {s['expected_pages']:,} = {s['expected_incidents']:,} × {args.people}: "
             f"{met(exact)}; notifications {s['notifications']}"),
            (f"{s['name']}: answers", f"{s['accepted']:,} × 200", f"5xx {s['server_errors']}, "
             f"4xx {s['client_errors']}", f"{s['alerts_stored']:,} stored, {s['lost']} lost: {met(sound)}"),
        ]
    table = Table("what", "throughput", "latency", "check", title="Storm")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    lines = ["| what | throughput | latency | check |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines.append(method(args))
    return "\n".join(lines), correct


def figures(side: dict[str, Any], storms: list[dict[str, Any]], correct: bool) -> dict[str, Any]:
    """The run's headline figures, for comparing runs (benchmarks/sitting.py)."""
    tocsin, alertmanager = accepted_per_s(side["tocsin"]), accepted_per_s(side["alertmanager"])
    return {
        "tocsin_alerts_per_s": tocsin, "alertmanager_alerts_per_s": alertmanager, "ratio": tocsin / alertmanager,
        "cpu": side["cpu"],
        "storms": {s["name"]: {k: s[k] for k in ("alerts_per_s", "p50", "p99", "max", "queued_p50", "queued_p99")}
                   for s in storms},
        "correct": correct,
    }


def cpu_row(what: str, cpu: dict[str, float]) -> tuple[str, str, str, str]:
    """A row of CPU per durable alert, by process, of one side-by-side run."""
    path = " + ".join(f"{role} {cpu[role]:.1f}" for role in ALERT_PATH)
    others = ", ".join(f"{role} {cpu[role]:.1f}" for role in cpu if role not in ALERT_PATH and role != "alert path")
    return (f"{what}: CPU per durable alert, side-by-side run", f"{cpu['alert path']:.1f} µs per alert",
            f"{path} µs; besides: {others} µs",
            f"target ≤ {TARGET_CPU_US:.0f} µs over the alert path: {met(cpu['alert path'] <= TARGET_CPU_US)}")


def method(args: argparse.Namespace) -> str:
    """The note under the table: one line per paragraph, however the figures fall."""
    text = f"""
Method. Side by side, both targets got the same {args.fingerprints:,} distinct firing alerts
(shaped as tests/e2e/alert_payloads.py, one instance label each), {BATCH} per request, cycling,
from wrk with {THREADS} threads and {args.connections} connections for {args.seconds:.0f} s, after a
3 s warm-up on other alerts: Tocsin opened {args.fingerprints:,} incidents, then added
occurrences. Alertmanager took Prometheus' alert list on /api/v2/alerts and answers once the
alerts are in its memory (not durable); Tocsin took Alertmanager's webhook notification and
answers 200 once the shard batch has committed to Postgres (fsync on). Alertmanager ran as its
own process (no cluster peers, one webhook receiver grouping by alertname) while the Tocsin stack
stood idle beside it, and was stopped before the storms; {args.shards} shards, 1 gateway replica, all on
this machine. CPU per alert is each Tocsin process's CPU time (user and system, psutil) over
the measured run, summed by role, divided by the alerts that run stored; the alert path is the
gateway replica, the shards and the Postgres backends of the stack's database.

In the storm, request i carries alert i (new) and the {BATCH - 1} before it (still firing), so an
incident opens with every request; each pages all {args.people} people of the policy's only level
(a verified webhook each, a 0-minute high-urgency rule) through the webhook ChannelActor (rate
{args.webhook_rate:,.0f}/s, throttle {THROTTLE_OFF:,} messages per person per window) to a local
HTTP receiver in the benchmark's process. Latency runs from the incident's created_at (when the
gateway received the alert that opened it) to the first of its pages reaching the receiver,
both wall clock on this machine. Pages fall due faster than the channel may send them (its
rate): the first page of each incident goes ahead of the others, and the rest wait their turn.
Before each storm the benchmark has Postgres write out its buffers (CHECKPOINT; --no-checkpoint
leaves them), so that the storm does not pay for the writes of the runs before it. The paced storm does the same
with new people and {args.paced_alerts // BATCH:,} new alerts, its connections pausing at random
between requests so that about {args.paced_rate:,.0f} alerts/s, {args.paced_rate / BATCH:,.0f} new
incidents/s, arrive: how the first page fares when the channel keeps up."""
    return "\n" + "\n\n".join(" ".join(paragraph.split()) for paragraph in text.strip().split("\n\n"))


def between_phases(stack: Stack, args: argparse.Namespace) -> None:
    """Each phase starts as on a fresh stack: the one before left Postgres' shared buffers
    full of pages it has not written out (on this machine's default 128 MB, the side-by-side
    runs' 160,000 alerts), and a storm that found them there paid for writing them out as it
    evicted them: a sixth fewer alerts/s, and first pages a third later (p99 548 against 416 ms)."""
    if args.checkpoint and not stack.checkpoint():
        console.print("[yellow]no CHECKPOINT (not allowed for this database user): phases share dirty buffers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15, help="per side-by-side run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--alerts", type=int, default=100_000, help="in the storm with paging")
    parser.add_argument("--fingerprints", type=int, default=1000)
    parser.add_argument("--people", type=int, default=20, help="paged for each new incident")
    parser.add_argument("--webhook-rate", type=float, default=500, help="the webhook provider's messages/s")
    parser.add_argument("--paced-alerts", type=int, default=10_000,
                        help="a second storm, paced, one new incident per request (0: none)")
    parser.add_argument("--paced-rate", type=float, default=500, help="alerts/s of the paced storm")
    parser.add_argument("--rules", type=int, default=0,
                        help="also measure Tocsin through a router with this many routing and service rules (50)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--port", type=int, default=8532)
    parser.add_argument("--no-checkpoint", dest="checkpoint", action="store_false",
                        help="do not have Postgres write out its buffers before each storm")
    add_figures_option(parser)
    args = parser.parse_args()
    require_wrk()
    os.environ["TOCSIN_RATE_WEBHOOK_PER_S"] = str(args.webhook_rate)
    os.environ["TOCSIN_THROTTLE_MESSAGES"] = str(THROTTLE_OFF)
    with HttpReceiver() as am_hooks, HttpReceiver() as hooks, tocsin_stack(args.port, shards=args.shards,
                                                                           channels=True) as stack:
        # Alertmanager runs for the side-by-side runs only: the storms measure Tocsin alone.
        with Alertmanager(f"{am_hooks.url}/alertmanager") as am:
            side = side_by_side(stack, am, args)
            am_notified = len(am_hooks.requests)
        between_phases(stack, args)
        storms = [storm(stack, hooks, args, "storm", args.alerts, args.fingerprints, 0)]
        if args.paced_alerts:
            between_phases(stack, args)
            storms.append(storm(stack, hooks, args, "paced", args.paced_alerts,
                                args.paced_alerts // BATCH, args.paced_rate))
    command = "python3 benchmarks/storm.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v != parser.get_default(k))
    markdown, correct = report(side, storms, am, am_notified, args)
    record_or_write(args.figures, SECTION, command, markdown, lambda: figures(side, storms, correct))
    if not correct:
        sys.exit("the storm lost or repeated something: see the table")


if __name__ == "__main__":
    main()
