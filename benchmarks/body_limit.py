"""What the body limit middleware costs a request: an ASGI call loop, in this process, with
and without it.

    python3 benchmarks/body_limit.py [--requests 20000]

Two apps: a no-op ASGI app (the middleware's own cost, nothing else), and Tocsin's gateway
app as `create_api()` builds it, with the shards and the key lookup stood in for (no Ray,
no database), so that a PagerDuty event goes the whole way through FastAPI, pydantic and
the route. Each figure is a median over 7 rounds of --requests calls to each app in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from starlette.types import ASGIApp, Message, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.domain.batch_plan import Reply  # noqa: E402
from tocsin.actors.store.services import IntegrationKey  # noqa: E402
from benchmarks.harness import record  # noqa: E402
from tocsin.actors.settings import Settings  # noqa: E402
from tocsin.serve import runtime as runtime_module  # noqa: E402
from tocsin.serve.app import create_api  # noqa: E402
from tocsin.serve.body_limit import BodyLimit  # noqa: E402
from tocsin.serve.route_limits import replica_limits  # noqa: E402

console = Console()
KEY = "k" * 32
ROUNDS = 7


class Shards:
    async def submit(self, item: object) -> Reply:
        return Reply("opened", 1, "triggered")


async def _no_key_lookup(key: str) -> IntegrationKey | None:
    return IntegrationKey("integration-1", "service-1", "pagerduty", False) if key == KEY else None


def install_runtime() -> None:
    settings = Settings(admin_token="t", rate_limit_per_s=1e9, rate_limit_burst=10**9)
    runtime = runtime_module.GatewayRuntime(settings, database_url="postgresql://127.0.0.1:1/none")
    runtime.keys.get = _no_key_lookup  # type: ignore[method-assign]
    runtime.shards = Shards()  # type: ignore[assignment]
    runtime_module.install(runtime)


def tocsin_app(limited: bool) -> ASGIApp:
    api = create_api()
    if not limited:
        api.user_middleware = [m for m in api.user_middleware if m.cls is not BodyLimit]  # type: ignore[comparison-overlap]
    return api


async def no_op(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b""})


EVENT = orjson.dumps({"routing_key": KEY, "event_action": "trigger", "dedup_key": "disk-db1",
                      "payload": {"summary": "Disk full on db1", "source": "db1", "severity": "critical"}})


def scope(method: str, path: str, body: bytes | None, chunked: bool = False) -> dict[str, Any]:
    headers = [(b"host", b"tocsin"), (b"content-type", b"application/json"), (b"user-agent", b"bench")]
    if body is not None:
        headers.append((b"transfer-encoding", b"chunked") if chunked else (b"content-length", b"%d" % len(body)))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}


CASES = [
    ("PagerDuty event, Content-Length", "POST", "/v2/enqueue", EVENT, False),
    ("PagerDuty event, chunked", "POST", "/v2/enqueue", EVENT, True),
    ("GET without a body", "GET", "/ui/login", None, False),
]


async def compare(bare: ASGIApp, limited: ASGIApp, case: tuple[str, str, str, bytes | None, bool],
                  requests: int) -> tuple[float, float, float]:
    """µs per request without and with the middleware, and the difference: medians over
    ROUNDS rounds, each timing one app right after the other, so that the load of this
    machine weighs on both alike."""
    _, method, path, body, chunked = case
    template = scope(method, path, body, chunked)
    message = {"type": "http.request", "body": body or b"", "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(sent: Message) -> None:
        if sent["type"] == "http.response.start":
            statuses.append(sent["status"])

    async def timed(app: ASGIApp) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await app(dict(template), receive, send)
        return (time.perf_counter() - started) / requests * 1e6

    without, with_limit = [], []
    for _ in range(ROUNDS):
        without.append(await timed(bare))
        with_limit.append(await timed(limited))
    assert set(statuses) <= {200, 202}, set(statuses)
    differences = [b - a for a, b in zip(without, with_limit)]
    return statistics.median(without), statistics.median(with_limit), statistics.median(differences)


async def run(requests: int) -> list[tuple[str, str, float, float, float]]:
    install_runtime()
    apps: dict[str, tuple[ASGIApp, ASGIApp]] = {
        "no-op app": (no_op, BodyLimit(no_op, replica_limits)),
        "Tocsin's app": (tocsin_app(limited=False), tocsin_app(limited=True)),
    }
    results = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("requests", total=len(apps) * len(CASES))
        for name, (bare, limited) in apps.items():
            for case in CASES:
                results.append((name, case[0], *await compare(bare, limited, case, requests)))
                progress.advance(task)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="per app and round")
    args = parser.parse_args()
    results = asyncio.run(run(args.requests))
    table = Table("app", "request", "µs without", "µs with", "difference", title="Body limit middleware")
    lines = ["| app | request | µs without | µs with | difference |", "|---|---|---|---|---|"]
    for name, case, without, with_limit, difference in results:
        cells = (name, case, f"{without:.1f}", f"{with_limit:.1f}", f"{difference:+.1f} µs")
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    lines.append("\nAn ASGI call loop in one process (no HTTP server, no Ray); Tocsin's app with the shards and "
                 f"the key lookup stood in for. Medians over {ROUNDS} rounds, the two apps timed in turn; the "
                 "difference is the median of the rounds' differences.")
    command = "python3 benchmarks/body_limit.py" + ("" if args.requests == 20_000 else f" --requests {args.requests}")
    record("Body limit middleware (benchmarks/body_limit.py)", command, "\n".join(lines))


if __name__ == "__main__":
    main()
