"""Run `tocsin up` as a user would, in a subprocess, and stop it the same way (Ctrl-C)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


class TocsinProcess:
    def __init__(
        self,
        *,
        port: int,
        data_dir: Path,
        env: dict[str, str],
        extra_args: tuple[str, ...] = (),
        inherit_env: bool = True,
        command: str = "up",
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.log_path = data_dir / "tocsin-up.log"
        self.env = {**os.environ, **env} if inherit_env else dict(env)
        self.name = f"tocsin {command}"
        self._args = [command, "--port", str(port), "--data-dir", str(data_dir), *extra_args]
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def command() -> list[str]:
        script = shutil.which("tocsin")
        return [script] if script else [sys.executable, "-m", "tocsin.cluster.cli"]

    def start(self, timeout_s: float = 180) -> TocsinProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self._process = subprocess.Popen(self.command() + self._args, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._process.returncode}:\n{self.log()}{self.log_tails()}")
            with contextlib.suppress(httpx.HTTPError):  # not listening yet: poll again
                healthy = httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200
                if healthy and "Ctrl-C stops." in self.log():
                    return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"{self.name} was not healthy within {timeout_s}s:\n{self.log()}{self.log_tails()}")

    def stop(self, timeout_s: float = 90) -> int:
        """Ctrl-C, as a person stops it; returns the exit code."""
        if self._process is None or self._process.poll() is not None:
            return self._process.returncode if self._process else 0
        self._process.send_signal(signal.SIGINT)
        try:
            return self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def log(self) -> str:
        """What `tocsin up` wrote to its terminal."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tails(self, chars: int = 3000) -> str:
        """The end of each log file `tocsin up` keeps in the data dir (Postgres's, Ray's, its own)."""
        tails = [f"\n--- {path}:\n{path.read_text(errors='replace')[-chars:]}"
                 for path in sorted((self.data_dir / "logs").glob("*.log"))]
        return "".join(tails)


def own_environment() -> dict[str, str]:
    """This environment without the run's Tocsin settings or the Serve ports chosen for the
    run's own Ray: a Tocsin started with it chooses its own, as on a user's machine."""
    from tocsin.cluster.raystart import LOCAL_RAY_VARIABLES

    return {k: v for k, v in os.environ.items()
            if not k.startswith(("TOCSIN_", "RAY_ADDRESS")) and k not in LOCAL_RAY_VARIABLES}


@dataclass(frozen=True)
class Deployment:
    """A running `tocsin up`: where it serves, its admin token; for one of its own
    (`own_deployment`), its database and its process."""

    base_url: str
    token: str
    database_url: str = ""
    process: TocsinProcess | None = None

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}", **headers},
                            timeout=30)


@contextlib.contextmanager
def own_deployment(postgres_admin_url: str, data_dir: Path, namespace: str, env: dict[str, str]) -> Iterator[Deployment]:
    """`tocsin up` with these settings besides the run's: its own Ray (Serve is one per Ray)
    and its own database (its shards would otherwise fire the deadlines of the run's services
    too), stopped and dropped afterwards."""
    from tests.conftest import free_port, fresh_database

    token = "test-admin-token-" + uuid.uuid4().hex
    inherited = own_environment()
    with fresh_database(postgres_admin_url) as database_url:
        server = TocsinProcess(port=free_port(), data_dir=data_dir, inherit_env=False, extra_args=("--shards", "2"), env={
            **inherited, "TOCSIN_DATABASE_URL": database_url, "TOCSIN_ADMIN_TOKEN": token,
            "TOCSIN_NAMESPACE": namespace, "TOCSIN_SHARD_TIMEOUT_S": "5", **env,
        }).start(timeout_s=240)
        try:
            yield Deployment(server.base_url, token, database_url, server)
        finally:
            assert server.stop() == 0, server.log()
