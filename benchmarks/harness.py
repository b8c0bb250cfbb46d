"""Shared by the benchmarks: a Tocsin stack in this process, wrk as the load, results files.

The stack is brought up with the same functions `tocsin up` uses, on a fresh database, so
a benchmark measures what users run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SYSTEM_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
LAST_ANSWERS_S = 1.0  # after everything is stored, how long wrk is left to take its last answers


@dataclass
class Stack:
    base_url: str
    database_url: str
    admin_token: str
    shards_started: float  # time.monotonic() when the shards were up

    def settle(self, seconds: float) -> None:
        """Wait until the shards are `seconds` old: just after a start they also check each
        batch's event ids against the database (calls Ray retries across a restart), which
        is not the steady state."""
        time.sleep(max(0.0, self.shards_started + seconds - time.monotonic()))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def new_service(self, name: str, kind: str = "pagerduty") -> tuple[str, str]:
        """A service with one integration of type `kind`: (service id, integration key)."""
        service = httpx.post(f"{self.base_url}/api/v1/services", json={"name": name}, headers=self.headers()).json()
        integration = httpx.post(f"{self.base_url}/api/v1/services/{service['id']}/integrations",
                                 json={"type": kind}, headers=self.headers()).json()
        return service["id"], integration["key"]

    def checkpoint(self) -> bool:
        """Have Postgres write out its dirty buffers now (it does every few minutes anyway), so
        that the next measurement does not pay for the writes of the one before; whether it
        could (CHECKPOINT needs a superuser or pg_checkpoint)."""
        try:
            self.query("CHECKPOINT")
        except asyncpg.InsufficientPrivilegeError:
            return False
        return True

    def query(self, sql: str, *args: Any) -> list[Any]:
        return query(self.database_url, sql, *args)

    def occurrences(self, service_ids: list[str]) -> int:
        """The alerts these services' incidents have taken, committed: for watching a storm
        while it runs. Counting their raw rows instead scans the whole alerts table (it has no
        index by service), some 300 ms of a core per look once it holds a few hundred thousand
        rows: looking twice a second took most of a core from the run being measured."""
        rows = self.query("SELECT coalesce(sum(occurrences), 0) FROM incidents WHERE service_id = ANY($1::uuid[])",
                          service_ids)
        return int(rows[0][0])


def query(database_url: str, sql: str, *args: Any) -> list[Any]:
    """The rows of one statement, on a connection of its own."""
    async def run() -> list[Any]:
        conn = await asyncpg.connect(database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new database on the machine's Postgres (or TOCSIN_DATABASE_URL's server), dropped after."""
    admin_url = os.environ.get("TOCSIN_DATABASE_URL", SYSTEM_POSTGRES)
    name = f"tocsin_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def tocsin_stack(port: int, shards: int = 4, extra_apps: dict[str, Any] | None = None,
                 channels: bool = False) -> Iterator[Stack]:
    """Postgres, migrations, a local Ray, the shards and the Serve app, as `tocsin up` runs them;
    `extra_apps` ({route_prefix: app}) are deployed beside it on the same Serve set-up. With
    `channels`, the ChannelActors of the configured providers run too (TOCSIN_RATE_*_PER_S and
    TOCSIN_THROTTLE_* set their limits), so that pages are delivered."""
    import ray
    from ray import serve

    from tocsin.actors.store.migrate import migrate
    from tocsin.cluster import deploy
    from tocsin.cluster.raystart import start_ray
    from tocsin.actors.settings import Settings

    with fresh_database() as database_url:
        token = uuid.uuid4().hex
        # TOCSIN_* variables tune the stack under test (e.g. TOCSIN_BATCH_MAX_IN_FLIGHT).
        # The receivers the benchmarks page are local: webhooks may go to loopback.
        settings = Settings.from_env(port=port, shards=shards, admin_token=token, database_url=database_url,
                                     data_dir=Path(tempfile.mkdtemp(prefix="tocsin-bench-")),
                                     allow_private_destinations="127.0.0.0/8,::1/128")
        asyncio.run(migrate(database_url))
        start_ray(None, settings.namespace)
        # The event bus first, as `tocsin up` starts it: the shards publish every commit to it.
        handles = deploy.start_bus(settings) + deploy.start_shards(settings, database_url)
        shards_started = time.monotonic()
        if channels:
            handles += deploy.start_channels(settings, database_url)
        deploy.start_serve(settings, database_url)
        for prefix, app in (extra_apps or {}).items():
            serve.run(app, name=prefix.strip("/"), route_prefix=prefix, blocking=False)
        try:
            yield Stack(settings.base_url, database_url, token, shards_started)
        finally:
            serve.shutdown()
            for handle in handles:
                ray.kill(handle, no_restart=True)
            ray.shutdown()


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    output: str


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("the benchmarks drive load with wrk: apt-get install wrk")
    return wrk


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    stop_when: Callable[[], bool] | None = None,
) -> WrkResult:
    """wrk for `seconds`, or until `stop_when()` holds (then SIGINT: wrk still reports)."""
    command = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "60s",
               "--latency", "-s", str(script), url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as wrk:
        deadline = time.monotonic() + seconds + 120
        while wrk.poll() is None and time.monotonic() < deadline:
            if stop_when is not None and stop_when():
                # Everything is in the database, and the last answers may still be on their way
                # to wrk (interrupted at once, it once counted 99,999 answers of 100,000 alerts
                # stored): they are given a moment. wrk runs its whole duration unless interrupted.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    wrk.wait(timeout=LAST_ANSWERS_S)
                wrk.send_signal(signal.SIGINT)
                break
            time.sleep(0.5)
        out, err = wrk.communicate(timeout=120)
    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {err}\n{out}")
    return WrkResult(
        requests_per_s=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_latency(out, "50%"),
        p99_ms=_latency(out, "99%"),
        requests=int(_find(r"(\d+) requests in", out)),
        non_2xx=int(_find(r"Non-2xx or 3xx responses: (\d+)", out, "0")),
        socket_errors=sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
        output=out,
    )


def _find(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match is None:
        if default is None:
            raise ValueError(f"{pattern!r} not in wrk output:\n{text}")
        return default
    return match.group(1)


def _latency(text: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\b", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


# Lua shared by the counting wrk scripts: numbered threads, and a tally of their answers
# printed as one "STORM accepted=… client_errors=… server_errors=… seconds=…" line.
LUA_THREADS = """local next_id, threads = 1, {}
function setup(thread)
  thread:set("id", next_id); next_id = next_id + 1
  table.insert(threads, thread)
end
"""
LUA_TALLY = """function done(summary, latency, requests)
  local a, c, s = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted"); c = c + t:get("client_errors"); s = s + t:get("server_errors")
  end
  io.write(string.format("STORM accepted=%d client_errors=%d server_errors=%d seconds=%.3f\\n",
    a, c, s, summary.duration / 1e6))
end
"""


def write_lua(body: str) -> Path:
    path = Path(tempfile.mkstemp(suffix=".lua", prefix="tocsin-bench-")[1])
    path.write_text(body)
    return path


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, {platform.system()}"


def add_figures_option(parser: argparse.ArgumentParser) -> None:
    """`--figures FILE`: the run's figures go there as JSON, not to RESULTS.md
    (benchmarks/sitting.py compares runs that way)."""
    parser.add_argument("--figures", type=Path, default=None,
                        help="write the run's figures to this JSON file instead of RESULTS.md")


def record_or_write(figures_file: Path | None, section: str, command: str, markdown: str,
                    figures: Callable[[], dict[str, Any]]) -> None:
    """The run's section of RESULTS.md, or, given `--figures`, its figures as JSON."""
    if figures_file is None:
        record(section, command, markdown)
        print("written to benchmarks/RESULTS.md")
    else:
        figures_file.write_text(json.dumps(figures()))
        print(f"figures written to {figures_file}")


def record(section: str, command: str, markdown: str) -> None:
    """Replace this benchmark's section of RESULTS.md, keeping the others."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = f"## {section}\n\n`{command}` — {stamp}, {machine()}\n\n{markdown.strip()}\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nWritten by the benchmarks themselves; each section is replaced by its latest run, and says only\nwhat that run measured. Earlier runs, trials and what they showed are kept, by date, in\n`benchmarks/NOTES.md`.\n"
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)
