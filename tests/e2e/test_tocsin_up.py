"""`tocsin up` on its embedded defaults, as a new user runs it: own Ray, embedded Postgres,
a generated admin token; a calm terminal and a one-time link to create the first admin;
`tocsin status`; Ctrl-C; data kept across a restart."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.e2e.accounts import COOKIE, session_cookie
from tests.server import TocsinProcess, own_environment


def _defaults_env() -> dict[str, str]:
    return own_environment()


def _up(data_dir, port, *args: str) -> TocsinProcess:
    return TocsinProcess(port=port, data_dir=data_dir, env=_defaults_env(), inherit_env=False,
                         extra_args=args).start(timeout_s=240)


# What Postgres's initdb and Ray print when they start: the log files' business, not the terminal's.
INITDB_LINES = ("The files belonging to this database system", "Success. You can now start the database server",
                "initdb:")
RAY_BANNER_LINES = ("Started a local Ray instance", "View the dashboard at", "Ray runtime started")
STEPS = ("database", "migrations", "accounts", "Ray", "shards", "channels", "gateway")


def test_a_first_start_is_calm_and_prints_a_setup_link_that_creates_the_admin_once(tmp_path):
    data_dir, port = tmp_path / "tocsin-data", free_port()
    server = _up(data_dir, port)
    try:
        terminal = server.log()
        assert not [line for line in terminal.splitlines() if line.startswith(INITDB_LINES + RAY_BANNER_LINES)]
        assert not any(noise in terminal for noise in INITDB_LINES + RAY_BANNER_LINES + ("pgserver", "INFO")), terminal
        for step in STEPS:
            assert re.search(rf"^  ✓ {step} +\d+\.\d s  \S", terminal, re.MULTILINE), terminal
        logs = [Path(path) for path in re.findall(r"^  log  (\S+)$", terminal, re.MULTILINE)]
        assert [path.name for path in logs] == ["tocsin.log", "postgres.log", "ray.log"]
        assert all(path.is_file() and path.parent == data_dir / "logs" for path in logs)
        assert "The files belonging to this database system" in logs[1].read_text()  # initdb's, kept

        [setup_url] = re.findall(r"^Open (http://\S+/ui/setup\?token=\S+) to create the first admin", terminal,
                                 re.MULTILINE)
        assert setup_url.startswith(f"{server.base_url}/ui/setup?token=")
        token = setup_url.split("token=", 1)[1]
        page = httpx.get(setup_url)
        assert page.status_code == 200 and 'id="setup-form"' in page.text

        admin = {"token": token, "name": "Ada Admin", "email": "ada@example.com", "password": "a long passphrase"}
        created = httpx.post(f"{server.base_url}/api/v1/setup", json=admin)
        assert created.status_code == 201, created.text
        assert created.json()["role"] == "admin" and created.json()["email"] == "ada@example.com"
        login = httpx.post(f"{server.base_url}/api/v1/session",
                           json={"email": "ada@example.com", "password": "a long passphrase"})
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
        session, _ = session_cookie(login)
        audit = httpx.get(f"{server.base_url}/api/v1/audit", headers={"Cookie": f"{COOKIE}={session}"})
        [entry] = audit.json()["entries"]  # the first admin made themselves, with the link
        assert (entry["object_type"], entry["action"], entry["actor"], entry["via"]) == (
            "user", "create", created.json()["id"], "setup-link")
        assert entry["before"] is None and entry["after"]["email"] == "ada@example.com"

        again = httpx.post(f"{server.base_url}/api/v1/setup", json={**admin, "email": "eve@example.com"})
        assert again.status_code == 410 and "used already" in again.json()["message"]
        page = httpx.get(setup_url)
        assert page.status_code == 410 and "used already" in page.text
        assert httpx.post(f"{server.base_url}/api/v1/session",
                          json={"email": "eve@example.com", "password": "a long passphrase"}).status_code == 401
    finally:
        assert server.stop() == 0, server.log()

    # --verbose: the raw output is back on the terminal; someone can log in, so no link.
    (data_dir / "tocsin-up.log").unlink()
    verbose = _up(data_dir, port, "--verbose")
    try:
        terminal = verbose.log()
        assert "INFO pgserver:" in terminal and "Application 'tocsin' is ready" in terminal, terminal
        assert "✓ gateway" in terminal and "/ui/setup" not in terminal
    finally:
        assert verbose.stop() == 0, verbose.log()


def test_up_on_embedded_defaults_keeps_data_across_restarts(tmp_path):
    data_dir, port = tmp_path / "tocsin-data", free_port()
    server = _up(data_dir, port)
    try:
        token = (data_dir / "admin-token").read_text().strip()
        assert token in server.log(), "a generated token is printed on first start"
        assert f"{server.base_url}/docs" in server.log()
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{server.base_url}/api/v1/services", json={"name": "kept"}, headers=headers)
        assert created.status_code == 201

        status = subprocess.run(TocsinProcess.command() + ["status", "--data-dir", str(data_dir)],
                                capture_output=True, text=True, timeout=120, env=server.env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "ok" in status.stdout and "tocsin-shard-0" in status.stdout and "tocsin-shard-3" in status.stdout
        assert "webhook (closed)" in status.stdout  # the channel actors, with their breakers
    finally:
        assert server.stop() == 0, server.log()
    assert "Stopped." in server.log()
    assert (data_dir / "pgdata").is_dir()

    restarted = _up(data_dir, port)
    try:
        assert restarted.log().count("generated now") == 1, "the token is generated once"
        service = httpx.get(f"{restarted.base_url}/api/v1/services/{created.json()['id']}", headers=headers)
        assert service.status_code == 200 and service.json()["name"] == "kept"
    finally:
        assert restarted.stop() == 0, restarted.log()

    stopped = subprocess.run(TocsinProcess.command() + ["status", "--data-dir", str(data_dir)],
                             capture_output=True, text=True, timeout=60, env=_defaults_env())
    assert stopped.returncode == 1 and "not running" in stopped.stdout


def test_up_says_when_the_database_cannot_be_reached(tmp_path):
    env = {**_defaults_env(), "TOCSIN_DATABASE_URL": f"postgresql://tocsin:s3cret@127.0.0.1:{free_port()}/tocsin"}
    result = subprocess.run(TocsinProcess.command() + ["up", "--data-dir", str(tmp_path), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1
    assert "Cannot use the database" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr  # credentials are never printed


def test_up_refuses_an_admin_token_shorter_than_32_characters(tmp_path):
    """Refused before anything starts: the database it is given does not even answer."""
    env = {**_defaults_env(), "TOCSIN_ADMIN_TOKEN": "x" * 31,
           "TOCSIN_DATABASE_URL": f"postgresql://tocsin@127.0.0.1:{free_port()}/tocsin"}
    result = subprocess.run(TocsinProcess.command() + ["up", "--data-dir", str(tmp_path), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1
    assert "Refusing to start: TOCSIN_ADMIN_TOKEN has 31 characters" in result.stdout, result.stdout
    assert "at least 32" in result.stdout
    assert "Cannot use the database" not in result.stdout and "x" * 31 not in result.stdout


def test_up_names_each_wrong_setting_by_its_variable_and_starts_nothing(tmp_path):
    env = {**_defaults_env(), "TOCSIN_ALLOW_PRIVATE_DESTINATIONS": "10.0.0.0/8,intranet", "TOCSIN_SHARDS": "0"}
    result = subprocess.run(TocsinProcess.command() + ["up", "--data-dir", str(tmp_path), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2
    assert "Refusing to start: TOCSIN_ALLOW_PRIVATE_DESTINATIONS:" in result.stdout and "'intranet'" in result.stdout
    assert "Refusing to start: TOCSIN_SHARDS:" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not any(tmp_path.iterdir())  # no database, no token: nothing was started


def test_status_on_a_ray_cluster_lists_every_shard_with_its_node(tocsin, ray_address):
    """As a platform engineer runs it where no `tocsin up` ran: attached to the cluster by address."""
    status = subprocess.run(TocsinProcess.command() + ["status", "--address", ray_address],
                            capture_output=True, text=True, timeout=120, env=tocsin.env)
    assert status.returncode == 0, status.stdout + status.stderr
    shard_rows = [line for line in status.stdout.splitlines() if "tocsin-shard-" in line]
    assert len(shard_rows) == 2, status.stdout  # the deployment's count (--shards 2), found by name
    import ray

    [node] = ray.nodes()  # the run's Ray has one node; it holds every shard
    assert all(node["NodeManagerAddress"] in row for row in shard_rows), status.stdout
