"""Delivery at scale: notifications through the channel actors to local fake providers.

    python3 benchmarks/notify.py [--notifications 10000] [--seconds 50]

Seeds a fresh database with `--notifications` pages (40 % SMS, 20 % e-mail, 40 % webhook)
for 2,000 people, due evenly over `--seconds`, so that each channel is asked for about 80 %
of its provider's rate limit. Three ChannelActors run in this process with the real
provider clients: Twilio's client against a Twilio-compatible fake, aiosmtplib against an
aiosmtpd server, aiohttp against a local receiver. Reports messages/s, the time from each
row's `send_at` to the provider's acceptance (p50, p99, max), and the most messages any
provider was sent in one second, against its limit. Then `--flood` webhooks fall due at
once, 15 times what the provider takes in a second: the limiter must hold them to its rate.
Last, `--pushes` Web Push pages are committed at once to as many browser subscriptions: a
webpush ChannelActor encrypts and VAPID-signs each (pywebpush) and posts it to a fake push
service that checks the signature and decrypts it, as a browser's push service and browser
do. Reports pages/s and the time from the rows' commit to the push service's 201 (p50, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.channel import ChannelActor  # noqa: E402
from tocsin.actors.store.migrate import migrate  # noqa: E402
from benchmarks.harness import fresh_database, record  # noqa: E402
from benchmarks.process_cpu import ProcessCpu  # noqa: E402
from tocsin.actors.settings import Settings  # noqa: E402
from tests.fakes.http_receiver import HttpReceiver  # noqa: E402
from tests.fakes.push_service import FakePushService  # noqa: E402
from tocsin.actors.providers import vapid  # noqa: E402
from tests.fakes.smtp_server import SmtpServer  # noqa: E402
from tests.fakes.twilio_server import FakeTwilio  # noqa: E402

console = Console()
PEOPLE = 2000
SHARES = {"sms": 0.4, "email": 0.2, "webhook": 0.4}
RATES = {"twilio": 100.0, "smtp": 50.0, "webhook": 100.0}  # a short code, a relay, a receiver
PUSH_RATE = 1000.0  # browsers' push services take far more from one sender than this box sends


async def seed(conn: asyncpg.Connection, total: int, spread_s: float, start: datetime, hook_url: str) -> None:
    service = str(uuid.uuid4())
    await conn.execute("INSERT INTO services (id, name) VALUES ($1, 'checkout-api')", service)
    users = [str(uuid.uuid4()) for _ in range(PEOPLE)]
    await conn.executemany("INSERT INTO users (id, name, email, calendar_token) VALUES ($1, $2, $3, 'feed')",
                           [(u, f"user {n}", f"user{n}@example.com") for n, u in enumerate(users)])
    methods: dict[str, list[str]] = {}
    for channel in SHARES:
        ids = [str(uuid.uuid4()) for _ in users]
        address = {"sms": lambda n: f"+1415{n:07d}", "email": lambda n: f"user{n}@example.com",
                   "webhook": lambda n: f"{hook_url}/hook/{n}"}[channel]
        await conn.executemany(
            "INSERT INTO contact_methods (id, user_id, kind, address, verified) VALUES ($1, $2, $3, $4, true)",
            [(m, u, channel, address(n)) for n, (m, u) in enumerate(zip(ids, users))])
        methods[channel] = ids
    incidents = await conn.fetch(
        "INSERT INTO incidents (id, service_id, dedup_key, status, summary, severity, occurrences, created_at,"
        " updated_at, last_occurrence_at) SELECT nextval('incident_ids'), $1, 'key-' || n, 'triggered',"
        " 'checkout latency high on host-' || n, 'critical', 1, now(), now(), now()"
        " FROM generate_series(1, 500) AS n RETURNING id", service)
    rows = []
    for n in range(total):
        channel = _channel_of(n)
        person = n % PEOPLE
        send_at = start + timedelta(seconds=spread_s * n / total)
        rows.append((incidents[n % len(incidents)]["id"], 1 + n // PEOPLE, service, users[person],
                     methods[channel][person], channel, send_at))
    await conn.executemany(
        "INSERT INTO notifications (incident_id, service_id, page, level, pass, user_id, contact_method_id, channel,"
        " delay_minutes, urgency, message, send_at, created_at, updated_at)"
        " VALUES ($1, $3, $2, 0, 0, $4, $5, $6, 0, 'high', 'checkout latency high', $7, now(), now())", rows)


def _channel_of(n: int) -> str:
    """Interleaved by share, so every channel's rows are spread over the whole run."""
    slot = n % 5
    return "sms" if slot < 2 else ("email" if slot == 2 else "webhook")


async def progress(conn: asyncpg.Connection, total: int, timeout_s: float) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:>6.0f}/{task.total:.0f}"),
               TimeElapsedColumn())
    deadline = time.monotonic() + timeout_s
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("delivering", total=total)
        while (done := await conn.fetchval(
                "SELECT count(*) FROM notifications WHERE status IN ('sent', 'dead', 'cancelled', 'bundled')")) < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {total} delivered after {timeout_s:.0f} s")
            bar.update(task, completed=done)
            await asyncio.sleep(0.5)
        bar.update(task, completed=total)


async def backend_pids(conn: asyncpg.Connection) -> list[int]:
    """The Postgres backends connected to the benchmark's database."""
    return [r[0] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]


def busiest_second(times: Sequence[float]) -> int:
    """The most events in any one-second window."""
    ordered, most, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def flood(conn: asyncpg.Connection, count: int) -> tuple[datetime, int]:
    """`count` webhook pages due at once, far past the provider's rate: the limiter must hold.
    When they were due, and how many there are."""
    at = datetime.now(timezone.utc)
    status = await conn.execute(
        "INSERT INTO notifications (incident_id, service_id, page, level, pass, user_id, contact_method_id, channel,"
        " delay_minutes, urgency, message, send_at, created_at, updated_at)"
        " SELECT incident_id, service_id, 100000 + id, 0, 0, user_id, contact_method_id, 'webhook', 0, 'high',"
        " 'checkout latency high', $1, now(), now()"
        " FROM notifications WHERE channel = 'webhook' ORDER BY id LIMIT $2", at, count)
    return at, int(status.split()[-1])


async def pushes(conn: asyncpg.Connection, url: str, settings: Settings, count: int,
                 service: FakePushService) -> dict[str, Any]:
    """`count` webpush pages, one per subscription, committed at once; from that commit to
    each 201 of the fake push service."""
    browsers = [service.subscribe() for _ in range(count)]
    people = await conn.fetch("SELECT id::text FROM users ORDER BY id LIMIT $1", count)
    methods = [(str(uuid.uuid4()), people[n % len(people)]["id"], b) for n, b in enumerate(browsers)]
    await conn.executemany(
        "INSERT INTO contact_methods (id, user_id, kind, address, verified, push_p256dh, push_auth)"
        " VALUES ($1, $2, 'webpush', $3, true, $4, $5)",
        [(m, u, b.endpoint, b.json()["keys"]["p256dh"], b.json()["keys"]["auth"]) for m, u, b in methods])
    actor = ChannelActor("webpush", settings, url)
    await actor.nudge()
    committed = time.time()
    await conn.execute(
        "INSERT INTO notifications (incident_id, service_id, page, level, pass, user_id, contact_method_id, channel,"
        " delay_minutes, urgency, message, send_at, created_at, updated_at)"
        " SELECT i.id, i.service_id, 200000 + m.n, 0, 0, m.user_id::uuid, m.id::uuid, 'webpush', 0, 'high',"
        " 'checkout latency high', now(), now(), now()"
        " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS m(id, user_id, n)"
        " JOIN LATERAL (SELECT id, service_id FROM incidents ORDER BY id LIMIT 1) i ON true",
        [m for m, _, _ in methods], [u for _, u, _ in methods])
    await actor.nudge()
    deadline = time.monotonic() + count / PUSH_RATE + 120
    while len(service.deliveries) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(service.deliveries)} of {count} pushes taken; refused {service.refused[:3]}")
        await asyncio.sleep(0.2)
    await actor.close()
    late = sorted((d.at - committed) * 1000 for d in service.deliveries)
    return {"count": count, "rate": count / max(late[-1] / 1000, 1e-6), "p50": late[len(late) // 2],
            "p99": late[max(0, int(len(late) * 0.99) - 1)], "max": late[-1], "refused": len(service.refused)}


async def run(url: str, args: argparse.Namespace, twilio: FakeTwilio, smtp: SmtpServer,
              hooks: HttpReceiver, push_service: FakePushService) -> dict[str, Any]:
    await migrate(url)
    settings = Settings(**twilio.settings(), smtp_host=smtp.host, smtp_port=smtp.port, smtp_from="tocsin@example.com",
                        providers_email="smtp", rate_twilio_per_s=RATES["twilio"], rate_smtp_per_s=RATES["smtp"],
                        rate_webhook_per_s=RATES["webhook"], public_url="http://127.0.0.1:9",
                        allow_private_destinations="127.0.0.0/8",  # the webhook receiver is local
                        throttle_messages=1000,  # per-person throttles are not what is measured here
                        vapid_private_key=vapid.generate(), vapid_subject="mailto:ops@example.com",
                        rate_webpush_per_s=PUSH_RATE)
    conn = await asyncpg.connect(url)
    start = datetime.now(timezone.utc) + timedelta(seconds=3)
    await seed(conn, args.notifications, args.seconds, start, hooks.url)
    backends = await backend_pids(conn)
    database_cpu = ProcessCpu(lambda: backends)
    database_cpu.start()
    actors = [ChannelActor(channel, settings, url) for channel in SHARES]
    for actor in actors:
        await actor.nudge()  # starts its loop
    await progress(conn, args.notifications, args.seconds + 120)
    backends = await backend_pids(conn)  # the actors' pools, opened meanwhile, counted from zero
    database_cpu.stop()
    rows = await conn.fetch("SELECT status, extract(epoch FROM sent_at - send_at) AS late FROM notifications")
    span = await conn.fetchval("SELECT extract(epoch FROM max(sent_at) - min(send_at)) FROM notifications")
    attempts = await conn.fetch("SELECT provider, extract(epoch FROM at) AS at FROM notification_attempts"
                                " WHERE outcome = 'sent'")
    flooded_at, flooded = await flood(conn, args.flood)
    await actors[2].nudge()
    await progress(conn, args.notifications + flooded, flooded / RATES["webhook"] + 60)
    burst = await conn.fetch("SELECT extract(epoch FROM at) AS at FROM notification_attempts"
                             " WHERE outcome = 'sent' AND provider = 'webhook' AND at >= $1", flooded_at)
    for actor in actors:
        await actor.close()
    pushed = await pushes(conn, url, settings, args.pushes, push_service) if args.pushes else None
    await conn.close()
    late = sorted(float(r["late"]) * 1000 for r in rows if r["status"] == "sent")
    by_provider: dict[str, list[float]] = {}
    for a in attempts:
        by_provider.setdefault(a["provider"], []).append(float(a["at"]))
    burst_times = sorted(float(b["at"]) for b in burst)
    return {
        "span": float(span), "sent": len(late),
        "database_us": database_cpu.seconds()["Postgres backends"] * 1e6 / max(len(late), 1),
        "statuses": {s: sum(1 for r in rows if r["status"] == s) for s in {r["status"] for r in rows}},
        "p50": late[len(late) // 2], "p99": late[int(len(late) * 0.99) - 1], "max": late[-1],
        "busiest": {p: busiest_second(t) for p, t in by_provider.items()},
        "received": {"twilio": len(twilio.messages), "smtp": len(smtp.messages), "webhook": len(hooks.requests)},
        "flood_sent": len(burst_times), "flood_busiest": busiest_second(burst_times),
        "flood_rate": (len(burst_times) - 1) / max(burst_times[-1] - burst_times[0], 1e-6),
        "push": pushed,
    }


def report(args: argparse.Namespace, result: dict[str, Any]) -> str:
    n = args.notifications
    rows = [
        (f"{n:,} notifications due over {args.seconds:.0f} s, delivered in {result['span']:.1f} s", f"{result['sent'] / result['span']:,.0f} messages/s",
         f"statuses {result['statuses']}; providers received {result['received']}"),
        ("from send_at to the provider's acceptance",
         f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms", ""),
        ("Postgres CPU per message sent", f"{result['database_us']:.0f} µs",
         "the database's backends over the part above (claims, composing, outcomes), psutil"),
    ]
    for provider, most in sorted(result["busiest"].items()):
        limit = RATES[provider]
        rows.append((f"rate limit {provider}", f"busiest second {most} messages",
                     f"limit {limit:.0f}/s (+1 burst): {'held' if most <= limit + 1 else 'NOT held'}"))
    limit = RATES["webhook"]
    rows.append((f"flood: {args.flood:,} webhooks due at once",
                 f"{result['flood_rate']:,.0f} messages/s, busiest second {result['flood_busiest']}",
                 f"limit {limit:.0f}/s (+1 burst): {'held' if result['flood_busiest'] <= limit + 1 else 'NOT held'}; "
                 f"{result['flood_sent']:,} sent"))
    push = result["push"]
    if push is not None:
        rows.append((f"Web Push: {push['count']:,} pages committed at once, one per browser",
                     f"{push['rate']:,.0f} pages/s; commit to the push service's 201: p50 {push['p50']:.0f} ms, "
                     f"p99 {push['p99']:.0f} ms, max {push['max']:.0f} ms",
                     f"VAPID checked and payload decrypted by the fake; {push['refused']} refused"))
    table = Table("what", "result", "check", title="Delivery")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    lines = ["| what | result | check |", "|---|---|---|"] + [f"| {' | '.join(row)} |" for row in rows]
    lines.append(
        "\nThree ChannelActors (sms, email, webhook), then a fourth (webpush), in one process on Postgres with fsync on; the real twilio, "
        "aiosmtplib and aiohttp clients against a Twilio-compatible fake, aiosmtpd and a local HTTP receiver. Each "
        "channel is offered about 80 % of its provider's limit; every SMS also gets its reply code."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=50.0, help="over how long the rows fall due")
    parser.add_argument("--flood", type=int, default=1500, help="webhooks due at once after the steady part")
    parser.add_argument("--pushes", type=int, default=2000, help="Web Push pages committed at once at the end")
    args = parser.parse_args()
    with FakeTwilio() as twilio, SmtpServer() as smtp, HttpReceiver() as hooks, FakePushService() as push_service, \
            fresh_database() as url:
        result = asyncio.run(run(url, args, twilio, smtp, hooks, push_service))
    command = "python3 benchmarks/notify.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v != parser.get_default(k))
    record("Delivery (benchmarks/notify.py)", command, report(args, result))
    console.print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
