"""A Postgres of the test's own, which the test may stop and start again.

The machine's Postgres serves other test runs and other people at the same time: it is
never stopped. This one is embedded (pgserver's binaries, in a temporary directory,
reached over a Unix socket by every process on this machine, fsync on), and its stop is
Postgres's "immediate" shutdown: the server goes away as in a crash, with no checkpoint,
and crash recovery runs when it is started again. `bounce` is an operator's restart
instead (`pg_ctl restart`), stopped and started again in one go.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg


class PrivatePostgres:
    """In a directory of its own under the system's temporary directory, not pytest's: as
    root, the server runs as another user, and every pytest session makes pytest's base
    directory private to root again, which would leave the server unable to reach its files."""

    def __init__(self) -> None:
        self._home: Path | None = None
        self._server: object | None = None

    def start(self) -> PrivatePostgres:
        import pgserver

        self._home = Path(tempfile.mkdtemp(prefix="tocsin-private-postgres-"))
        self._server = pgserver.get_server(self._home / "data", cleanup_mode="delete")  # type: ignore[attr-defined]
        return self

    @property
    def url(self) -> str:
        """The server's admin URL (database `postgres`); the same across stops and starts."""
        return str(self._require().get_uri())  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Gone at once, as in a crash: connections are cut, nothing is checkpointed."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        server: Any = self._require()
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)

    def restart(self, timeout_s: float = 60) -> None:
        """Start it again on the same socket, and wait until it takes connections (crash
        recovery first)."""
        server = self._require()
        with server._lock:  # type: ignore[attr-defined]  # pgserver's own start runs under it
            server.ensure_postgres_running()  # type: ignore[attr-defined]
        self._wait_for_connections(timeout_s)

    def bounce(self, mode: str = "fast", timeout_s: float = 60) -> None:
        """`pg_ctl restart -m <mode>`, as an operator restarts Postgres (fast: sessions are
        cut, open transactions rolled back, a checkpoint written, then it starts again on
        the same socket); returns once it takes connections."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        server: Any = self._require()
        pg_ctl(["-w", "-t", str(int(timeout_s)), "-m", mode, "-l", str(server.log), "restart"],
               pgdata=server.pgdata, user=server.system_user)
        with server._lock:  # pgserver notes the new postmaster, so that `close` stops this one
            server.ensure_postgres_running()
        self._wait_for_connections(timeout_s)

    def close(self) -> None:
        """Stop it for good and delete its files."""
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def _wait_for_connections(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not _answers(self.url):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the private Postgres did not take connections within {timeout_s:.0f} s")
            time.sleep(0.2)

    def _require(self) -> object:
        if self._server is None:
            raise RuntimeError("the private Postgres is not started")
        return self._server

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _answers(url: str) -> bool:
    import asyncio

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()

    with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        asyncio.run(probe())
        return True
    return False
