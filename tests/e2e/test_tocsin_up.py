"""`tocsin up` on its embedded defaults, as a new user runs it: own Ray, embedded Postgres,
a generated admin token; `tocsin status`; Ctrl-C; data kept across a restart."""

from __future__ import annotations

import os
import subprocess

import httpx

from tocsin.cluster.raystart import LOCAL_RAY_VARIABLES
from tests.conftest import free_port
from tests.server import TocsinProcess


def _defaults_env() -> dict[str, str]:
    # Nothing of this test run's settings, nor the Serve ports chosen for the run's own Ray:
    # `tocsin up` must choose its own, as it does on a user's machine.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("TOCSIN_", "RAY_ADDRESS")) and k not in LOCAL_RAY_VARIABLES}


def _up(data_dir, port) -> TocsinProcess:
    return TocsinProcess(port=port, data_dir=data_dir, env=_defaults_env(), inherit_env=False).start(timeout_s=240)


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
