"""`tocsin up | status | migrate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from typing import Any, cast

from rich.console import Console

from cluster.settings import Settings

# Wide enough for the status table when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 160)
log = logging.getLogger("tocsin")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=args.data_dir,
        ray_address=getattr(args, "address", None),
        shards=getattr(args, "shards", None),
    )
    return int(args.run(settings) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tocsin", description="On-call alerting on Ray.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start Postgres, Ray, the shards and the API; Ctrl-C stops")
    up.add_argument("--host", help="address to serve on (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to serve on (default 8000)")
    up.add_argument("--address", help="attach to this Ray cluster ('auto' or host:port) instead of a local one")
    up.add_argument("--shards", type=int, help="number of ServiceShards (fixed for a deployment; default 4)")
    up.set_defaults(run=_up)

    status = commands.add_parser("status", help="report what is running")
    status.set_defaults(run=_status)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(run=_migrate)

    for sub in (up, status, migrate):
        sub.add_argument("--data-dir", type=Path, help="where embedded data lives (default: user data dir)")
    parser.set_defaults(data_dir=None)
    return parser


def _up(settings: Settings) -> int:
    import asyncpg
    import ray

    from actors.store.migrate import migrate
    from cluster import deploy, local_state
    from cluster.postgres import open_database
    from cluster.raystart import start_ray

    started = time.monotonic()
    stop = _StopRequest()
    token, generated = local_state.admin_token(settings)
    settings = settings.model_copy(update={"admin_token": token})
    database = open_database(settings)
    actors: list[Any] = []
    try:
        try:
            applied = asyncio.run(migrate(database.url))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            console.print(f"[bold red]Cannot use the database[/bold red] ({_without_password(database.url)}): {exc}")
            return 1
        log.info("database ready (%d migrations applied now)", len(applied))
        start_ray(settings.ray_address, settings.namespace)
        deploy.start_actors(settings, database.url, actors)
        deploy.start_serve(settings, database.url)
        local_state.write_running(settings.data_dir, {
            "pid": os.getpid(), "url": settings.base_url, "ray_address": ray.get_runtime_context().gcs_address,
            "namespace": settings.namespace, "shards": settings.shards,
            # A local Ray turns token auth on for itself; whoever attaches must ask for it too.
            "ray_auth_mode": os.environ.get("RAY_AUTH_MODE"),
        })
        _announce(settings, token, generated, time.monotonic() - started)
        while not stop.requested:
            time.sleep(0.5)
        console.print("[bold]Stopping Tocsin…[/bold]")
    finally:
        local_state.clear_running(settings.data_dir)
        if ray.is_initialized():
            deploy.stop_all(settings, actors)
            ray.shutdown()
        database.stop()
    console.print("Stopped.")
    return 0


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


class _StopRequest:
    """Ctrl-C or SIGTERM ask for a clean stop. A plain flag: a handler that takes a lock
    (threading.Event.set) can deadlock against the main thread waiting on that lock."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._request)

    def _request(self, signum: int, frame: Any) -> None:
        self.requested = True


def _announce(settings: Settings, token: str, generated: bool, seconds: float) -> None:
    url = settings.base_url
    console.print(f"[bold green]Tocsin is up[/bold green] in {seconds:.1f}s")
    console.print(f"  API          {url}/api/v1")
    console.print(f"  API docs     {url}/docs")
    console.print(f"  PagerDuty    {url}/v2/enqueue")
    if settings.smtp_listen_port is not None:
        console.print(f"  e-mail       <key>@{settings.email_domain} via SMTP {settings.host}:{settings.smtp_listen_port}")
    console.print(f"  data         {settings.data_dir}")
    if generated:
        console.print(f"  admin token  [bold]{token}[/bold]  (generated now; kept in {settings.data_dir}/admin-token)")
    console.print("Ctrl-C stops.")
    console.file.flush()  # seen at once also when stdout is a file or a pipe


def _status(settings: Settings) -> int:
    import httpx

    from cluster import local_state

    running = local_state.read_running(settings.data_dir)
    if running is None:
        console.print(f"Tocsin is not running (nothing recorded in {settings.data_dir}).")
        return 1
    try:
        health = httpx.get(running["url"] + "/healthz", timeout=5).json()
    except httpx.HTTPError as exc:
        health = {"status": f"unreachable: {exc}"}
    console.print(f"Tocsin (pid {running['pid']}) at {running['url']}: {health.get('status')}")
    console.print(f"  Ray cluster  {running['ray_address']}  namespace {running['namespace']}")
    _print_shards(running)
    return 0 if health.get("status") == "ok" else 1


def _print_shards(running: dict[str, Any]) -> None:
    if running.get("ray_auth_mode"):  # read by Ray when it is imported
        os.environ.setdefault("RAY_AUTH_MODE", running["ray_auth_mode"])
    import ray
    from rich.table import Table

    from actors.ownership import shard_name

    ray.init(address=running["ray_address"], namespace=running["namespace"], configure_logging=False,
             log_to_driver=False)
    table = Table("shard", "node", "pid", "active services", "open incidents", "transactions", "inputs")
    for index in range(running["shards"]):
        try:
            stats = cast(dict[str, Any], ray.get(ray.get_actor(shard_name(index)).stats.remote(), timeout=10))
        except Exception as exc:  # noqa: BLE001 - report, do not fail
            table.add_row(shard_name(index), f"unavailable: {exc!r}", "", "", "", "", "")
            continue
        table.add_row(stats["name"], (stats["node_id"] or "")[:12], str(stats["pid"]),
                      str(stats["active_services"]), str(stats["open_incidents"]),
                      str(stats["transactions"]), str(stats["inputs"]))
    console.print(table)
    _print_channels()
    ray.shutdown()


def _print_channels() -> None:
    """The channel actors that run (a channel with no configured provider has none)."""
    import ray
    from rich.table import Table

    from actors.channel import CHANNELS, channel_name

    table = Table("channel", "node", "pid", "providers (breaker)", "sent", "retried", "dead")
    for channel in CHANNELS:
        try:
            stats = cast(dict[str, Any], ray.get(ray.get_actor(channel_name(channel)).stats.remote(), timeout=10))
        except ValueError:
            continue  # not running: no provider configured for it
        except Exception as exc:  # noqa: BLE001 - report, do not fail
            table.add_row(channel, f"unavailable: {exc!r}", "", "", "", "", "")
            continue
        providers = ", ".join(f"{p['name']} ({p['state']})" for p in stats["providers"])
        table.add_row(channel, (stats["node_id"] or "")[:12], str(stats["pid"]), providers,
                      str(stats.get("sent", 0)), str(stats.get("retried", 0)), str(stats.get("dead", 0)))
    console.print(table)


def _migrate(settings: Settings) -> int:
    from actors.store.migrate import migrate
    from cluster.postgres import open_database

    database = open_database(settings)
    try:
        applied = asyncio.run(migrate(database.url))
    finally:
        database.stop()
    console.print(f"applied {len(applied)} migration(s)" if applied else "database is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
