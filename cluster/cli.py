"""`tocsin up | demo | status | doctor | migrate | user set-password | config … | import …`."""

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
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError
from rich.console import Console

from tocsin.actors.domain.accounts.setup import LIFETIME
from tocsin.actors.settings import Settings
from tocsin.cluster import config_cli, output
from tocsin.cluster.admin_token import admin_token_problem
from tocsin.cluster.cautions import cautions
from tocsin.cluster.importers import cli as importers
from tocsin.cluster.output import LogFiles
from tocsin.cluster.postgres import Database, open_database
from tocsin.cluster.steps import Steps, StepFailed

if TYPE_CHECKING:
    from tocsin.cluster.demo.command import Demo

# Wide enough for the status table when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 160)
log = logging.getLogger("tocsin")
SETUP_HOURS = int(LIFETIME.total_seconds() // 3600)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if "remote" in vars(args):  # talks to a running Tocsin over HTTP: no local settings
        return int(args.remote(args))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "isolated", False):  # the demo: its settings are its own, none from the environment
        return _demo(args.data_dir, args.port, args.shards, args.rate, not args.no_generator, args.verbose)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            data_dir=args.data_dir,
            ray_address=getattr(args, "address", None),
            shards=getattr(args, "shards", None),
        )
    except ValidationError as exc:
        for problem in setting_problems(exc):
            console.print(f"[bold red]Refusing to start[/bold red]: {problem}", soft_wrap=True, highlight=False)
        return 2
    # Positional operands (such as set-password's EMAIL) follow the settings; options after them.
    options = {"verbose": args.verbose} if "verbose" in vars(args) else {}
    return int(args.run(settings, *getattr(args, "operands", ()), **options) or 0)


def setting_problems(exc: ValidationError) -> list[str]:
    """Each wrong setting named as the operator set it (its variable), with what is wrong."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        where = f"TOCSIN_{name.upper()}" if name else "the settings"
        problems.append(f"{where}: {error['msg']}")
    return problems


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tocsin", description="On-call alerting on Ray.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start Postgres, Ray, the shards and the API; Ctrl-C stops")
    up.add_argument("--host", help="address to serve on (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to serve on (default 8000)")
    up.add_argument("--address", help="attach to this Ray cluster ('auto' or host:port) instead of a local one")
    up.add_argument("--shards", type=int, help="number of ServiceShards (fixed for a deployment; default 4)")
    up.add_argument("--verbose", action="store_true",
                    help="show Postgres's and Ray's own output and every log line here, not in log files")
    up.set_defaults(run=_up)

    demo = commands.add_parser(
        "demo", help="start Tocsin with a demo organisation, a demo phone and alerts coming in; Ctrl-C stops")
    demo.add_argument("--port", type=int, default=8000, help="port to serve on, at 127.0.0.1 (default 8000)")
    demo.add_argument("--shards", type=int, default=2, help="number of ServiceShards (default 2)")
    demo.add_argument("--rate", type=float, default=None, help="alerts a minute, about (default 2)")
    demo.add_argument("--no-generator", action="store_true", help="send no alerts: only the organisation and the phone")
    demo.add_argument("--verbose", action="store_true",
                      help="show Postgres's and Ray's own output and every log line here, not in log files")
    demo.set_defaults(isolated=True)

    status = commands.add_parser(
        "status", help="report what is running: here, or on a Ray cluster with --address")
    status.add_argument("--address", help="the Ray cluster to look at ('auto' or host:port), e.g. on a cluster "
                                          "deployed with a Serve config rather than `tocsin up` on this machine")
    status.set_defaults(run=_status)

    doctor = commands.add_parser(
        "doctor", help="check a running or configured deployment, each problem with its fix; exit 1 on a problem")
    doctor.add_argument("--address", help="the Ray cluster to check ('auto' or host:port) instead of the"
                                          " `tocsin up` recorded in the data dir")
    # The output format reaches the command as its operand.
    doctor.add_argument("--json", dest="operands", action="store_const", const=("json",), default=(),
                        help="the findings as JSON, for machines")
    doctor.set_defaults(run=_doctor)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(run=_migrate)

    user = commands.add_parser("user", help="manage who can log in")
    user_actions = user.add_subparsers(required=True, metavar="ACTION")
    set_password = user_actions.add_parser(
        "set-password", help="set a user's password: asked for twice, or read from standard input when piped")
    set_password.add_argument("operands", nargs=1, metavar="EMAIL", help="the user's e-mail address")
    set_password.set_defaults(run=_set_password)

    config_cli.add_commands(commands)
    importers.add_to(commands)

    for sub in (up, status, doctor, migrate, set_password):
        sub.add_argument("--data-dir", type=Path, help="where embedded data lives (default: user data dir)")
    demo.add_argument("--data-dir", type=Path, help="where the demo's data lives (default: tocsin-demo beside"
                                                    " `tocsin up`'s data dir)")
    parser.set_defaults(data_dir=None)
    return parser


def _demo(data_dir: Path | None, port: int, shards: int, rate: float | None, generator: bool, verbose: bool) -> int:
    from tocsin.cluster.demo.command import DEFAULT_RATE, Demo, data_dir_default

    if rate is not None and rate <= 0 or not 1 <= port <= 65535 or shards < 1:
        console.print("[bold red]Refusing to start[/bold red]: --rate and --shards must be above 0, --port a port",
                      soft_wrap=True)
        return 2
    demo = Demo(data_dir or data_dir_default(), port, (rate or DEFAULT_RATE) if generator else None)
    try:
        return _up(demo.settings(shards), verbose, demo)
    finally:
        demo.stop()


def _up(settings: Settings, verbose: bool = False, demo: Demo | None = None) -> int:
    from tocsin.actors.providers.vapid import VapidKeyError
    from tocsin.cluster import local_state

    started = time.monotonic()
    # Before anything starts: a token that can be guessed opens the whole API.
    token, generated = local_state.admin_token(settings)
    source = "TOCSIN_ADMIN_TOKEN" if settings.admin_token else f"the admin token in {local_state.token_file(settings)}"
    problem = admin_token_problem(token, source)
    if problem:
        console.print(f"[bold red]Refusing to start[/bold red]: {problem}", soft_wrap=True)
        return 1

    try:
        settings = local_state.with_vapid_keys(settings)
    except VapidKeyError as exc:
        console.print(f"[bold red]Refusing to start[/bold red]: {exc}", soft_wrap=True)
        return 1

    logs = _route_output(settings, verbose)
    steps = Steps(console, logs, spinner=not verbose)

    import ray

    from tocsin.cluster import deploy
    from tocsin.cluster.raystart import start_ray

    stop = _StopRequest()
    settings = settings.model_copy(update={"admin_token": token})
    database: Database | None = None
    actors: list[Any] = []
    try:
        with steps.step("database", "starting the embedded Postgres" if settings.database_url is None
                        else "opening", log="postgres") as step:
            database = open_database(settings)
            step.detail = (f"embedded Postgres in {database.pgdata}" if database.pgdata is not None
                           else _without_password(database.url))
        _migrate_step(steps, database.url)
        setup_url = _accounts_step(steps, settings, database.url)
        # The password has done its work; the gateway replicas need not carry it.
        settings = settings.model_copy(update={"admin_password": None})
        with steps.step("Ray", "starting a local Ray" if settings.ray_address is None
                        else f"attaching to {settings.ray_address}", log="ray") as step:
            start_ray(settings.ray_address, settings.namespace)
            step.detail = "local" if settings.ray_address is None else f"attached to {settings.ray_address}"
        with steps.step("shards", "starting the shards and monitors", log="ray") as step:
            deploy.start_core(settings, database.url, actors)
            step.detail = f"{settings.shards} shards, event bus: {deploy.bus_kind(settings)}"
        with steps.step("channels", "starting the channels", log="ray") as step:
            providers = deploy.start_delivery(settings, database.url, actors)
            step.detail = _channels_found(providers)
        with steps.step("gateway", "starting the Serve gateway", log="ray") as step:
            deploy.start_serve(settings, database.url)
            step.detail = f"{settings.base_url}/"
        local_state.write_running(settings.data_dir, {
            "pid": os.getpid(), "url": settings.base_url, "ray_address": ray.get_runtime_context().gcs_address,
            "namespace": settings.namespace, "shards": settings.shards,
            # A local Ray turns token auth on for itself; whoever attaches must ask for it too.
            "ray_auth_mode": os.environ.get("RAY_AUTH_MODE"),
        })
        shown = demo.start(settings, token, steps) if demo is not None else []
        for caution in cautions(settings, providers):
            log.warning(caution)
        _announce(settings, token, generated, setup_url, time.monotonic() - started, shown)
        while not stop.requested:
            time.sleep(0.5)
        console.print("[bold]Stopping Tocsin…[/bold]")
    except StepFailed:
        return 1
    finally:
        if demo is not None:
            demo.stop_alerts()  # before what they go to
        local_state.clear_running(settings.data_dir)
        if ray.is_initialized():
            deploy.stop_all(settings, actors)
            ray.shutdown()
        if database is not None:
            database.stop()
    console.print("Stopped.")
    return 0


def _route_output(settings: Settings, verbose: bool) -> LogFiles | None:
    """The log files the output of Postgres and Ray goes to, named once; None with --verbose
    (everything on the terminal)."""
    if verbose:
        output.to_terminal(console)
        return None
    logs = output.to_files(settings.data_dir, console)
    console.print(f"Starting Tocsin; Postgres's and Ray's own output goes to {logs.folder}/", soft_wrap=True,
                  highlight=False)
    for path in logs.all():
        console.print(f"  log  {path}", soft_wrap=True, highlight=False)
    return logs


def _migrate_step(steps: Steps, database_url: str) -> None:
    from tocsin.actors.store.database import UNAVAILABLE
    from tocsin.actors.store.migrate import migrate

    with steps.step("migrations", "applying") as step:
        try:
            applied = asyncio.run(migrate(database_url))
        except UNAVAILABLE as exc:
            raise StepFailed(f"Cannot use the database ({_without_password(database_url)}): {exc}") from exc
        step.detail = f"{len(applied)} applied" if applied else "up to date"


def _accounts_step(steps: Steps, settings: Settings, database_url: str) -> str | None:
    """The admin of TOCSIN_ADMIN_EMAIL and TOCSIN_ADMIN_PASSWORD, when set; else, when nobody
    can log in, a one-time setup link (returned) to create the first admin from a browser."""
    from tocsin.cluster import accounts

    with steps.step("accounts", "checking who can log in") as step:
        try:
            done = accounts.ensure_configured_admin(settings, database_url)
        except accounts.AccountProblem as exc:
            raise StepFailed(f"Cannot make the admin user: {exc}") from exc
        setup_url = accounts.setup_link(settings, database_url)
        if done is not None:
            step.detail = f"admin {settings.admin_email}: {done}"
        else:
            step.detail = "nobody can log in yet: open the setup link below" if setup_url else "ready for logins"
    return setup_url


def _channels_found(providers: dict[str, list[str]]) -> str:
    running = [channel if names == [channel] else f"{channel} ({' then '.join(names)})"
               for channel, names in providers.items() if names]
    idle = [channel for channel, names in providers.items() if not names]
    found = ", ".join(running) or "none"
    return f"{found}; no provider for {', '.join(idle)}" if idle else found


def _set_password(settings: Settings, email: str) -> int:
    from tocsin.cluster import accounts
    password = _read_password()
    if password is None:
        return 1
    database = open_database(settings)
    try:
        accounts.set_password(database.url, email, password)
    except accounts.AccountProblem as exc:
        console.print(f"[bold red]{exc}[/bold red]")
        return 1
    finally:
        database.stop()
    console.print(f"password set for {email}; their sessions have ended")
    return 0


def _read_password() -> str | None:
    """Typed twice at a terminal (not echoed), or the first line of standard input."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        console.print("[bold red]The two passwords differ[/bold red]; nothing was changed.")
        return None
    return first


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


def _announce(settings: Settings, token: str, generated: bool, setup_url: str | None, seconds: float,
              shown: list[tuple[str, str]]) -> None:
    url = settings.base_url
    console.print(f"[bold green]Tocsin is up[/bold green] in {seconds:.1f}s")
    console.print(f"  dashboard    {url}/")
    console.print(f"  API          {url}/api/v1")
    console.print(f"  API docs     {url}/docs")
    console.print(f"  PagerDuty    {url}/v2/enqueue")
    if settings.smtp_listen_port is not None:
        console.print(f"  e-mail       <key>@{settings.email_domain} via SMTP {settings.host}:{settings.smtp_listen_port}")
    console.print(f"  data         {settings.data_dir}")
    for name, what in shown:
        console.print(f"  {name:<12} {what}", soft_wrap=True, highlight=False)
    if generated:
        console.print(f"  admin token  [bold]{token}[/bold]  (generated now; kept in {settings.data_dir}/admin-token)")
    if setup_url:
        console.print(f"[bold]Open {setup_url} to create the first admin[/bold] (the link works once, within"
                      f" {SETUP_HOURS} hours)", soft_wrap=True, highlight=False)
    console.print("Ctrl-C stops.")
    console.file.flush()  # seen at once also when stdout is a file or a pipe


def _status(settings: Settings) -> int:
    import httpx

    from tocsin.cluster import local_state

    if settings.ray_address:  # look at the cluster itself: its actors say what runs
        console.print(f"Tocsin on Ray cluster {settings.ray_address}, namespace {settings.namespace}")
        return _print_actors(settings.ray_address, settings.namespace)
    running = local_state.read_running(settings.data_dir)
    if running is None:
        console.print(f"Tocsin is not running (nothing recorded in {settings.data_dir}); "
                      "on a Ray cluster, use --address.")
        return 1
    # With the admin token, /healthz also says what is not ready and why.
    token = local_state.known_admin_token(settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        health = httpx.get(running["url"] + "/healthz", headers=headers, timeout=5).json()
    except httpx.HTTPError as exc:
        health = {"status": f"unreachable: {exc}"}
    console.print(f"Tocsin (pid {running['pid']}) at {running['url']}: {health.get('status') or health.get('message')}")
    console.print(f"  Ray cluster  {running['ray_address']}  namespace {running['namespace']}")
    if running.get("ray_auth_mode"):  # read by Ray when it is imported
        os.environ.setdefault("RAY_AUTH_MODE", running["ray_auth_mode"])
    _print_actors(running["ray_address"], running["namespace"])
    return 0 if health.get("status") == "ok" else 1


def _print_actors(address: str, namespace: str) -> int:
    """The shards and channel actors of the deployment, each with its node and its load;
    1 when a shard does not answer."""
    import ray

    ray.init(address=address, namespace=namespace, configure_logging=False, log_to_driver=False)
    try:
        nodes = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
        answered = _print_shards(nodes)
        _print_channels(nodes)
    finally:
        ray.shutdown()
    return 0 if answered else 1


def _print_shards(nodes: dict[str, str]) -> bool:
    import ray
    from rich.table import Table

    from tocsin.actors.ownership import SHARD_PREFIX

    # Found by name: the shard count is the deployment's, whatever this machine's settings say.
    names = sorted((n for n in ray.util.list_named_actors() if n.startswith(SHARD_PREFIX)),
                   key=lambda n: int(n.removeprefix(SHARD_PREFIX)))
    table = Table("shard", "node", "pid", "active services", "open incidents", "transactions", "inputs",
                  "inputs per batch", "last commit ms")
    answered = bool(names)
    for name in names:
        try:
            stats = cast(dict[str, Any], ray.get(ray.get_actor(name).stats.remote(), timeout=10))
        except Exception as exc:  # noqa: BLE001 - report, do not fail
            table.add_row(name, f"unavailable: {exc!r}", *[""] * 7)
            answered = False
            continue
        per_batch = stats["inputs"] / stats["transactions"] if stats["transactions"] else 0.0
        table.add_row(stats["name"], _node(nodes, stats["node_id"]), str(stats["pid"]),
                      str(stats["active_services"]), str(stats["open_incidents"]), str(stats["transactions"]),
                      str(stats["inputs"]), f"{per_batch:.1f}", str(stats["last_commit_ms"]))
    console.print(table if names else "no shards are running")
    return answered


def _node(nodes: dict[str, str], node_id: str | None) -> str:
    """The node's address, and the start of its id (two nodes may share an address)."""
    if not node_id:
        return ""
    return f"{nodes.get(node_id, '?')} ({node_id[:8]})"


def _print_channels(nodes: dict[str, str]) -> None:
    """The channel actors that run (a channel with no configured provider has none)."""
    import ray
    from rich.table import Table

    from tocsin.actors.domain.channels import CHANNELS
    from tocsin.actors.nudger import channel_name

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
        table.add_row(channel, _node(nodes, stats["node_id"]), str(stats["pid"]), providers,
                      str(stats.get("sent", 0)), str(stats.get("retried", 0)), str(stats.get("dead", 0)))
    console.print(table)


def _doctor(settings: Settings, output: str = "text") -> int:
    from tocsin.cluster import doctor

    return doctor.run(settings, output)


def _migrate(settings: Settings) -> int:
    from tocsin.actors.store.migrate import migrate
    database = open_database(settings)
    try:
        applied = asyncio.run(migrate(database.url))
    finally:
        database.stop()
    console.print(f"applied {len(applied)} migration(s)" if applied else "database is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
