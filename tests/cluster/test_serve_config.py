"""The Serve config file a platform engineer hands to a running Ray cluster
(cluster/serve_config.yaml, the application KubeRay's RayService embeds) deploys Tocsin:
a multi-node cluster on this machine whose nodes carry TOCSIN_DATABASE_URL and
TOCSIN_ADMIN_TOKEN, Ray's own `serve run --non-blocking` with the shipped file (only its
HTTP address moved to a free loopback port), then alerts in, incidents out, over HTTP.

No `tocsin` command runs here: everything on the cluster is started by the config's
builder, cluster/entrypoint.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.client import create_service, trigger
from tests.cluster.cluster_process import ROOT, RayClusterProcess, environment_for_another_ray
from tests.conftest import free_port, fresh_database

pytestmark = pytest.mark.timeout(600)

SHIPPED_CONFIG = ROOT / "cluster" / "serve_config.yaml"
HEALTHY_WITHIN_S = 180  # migrations, actors and two replicas on a loaded 2-core machine
CLI_TIMEOUT_S = 120


@dataclass(frozen=True)
class Deployed:
    base_url: str
    cluster: RayClusterProcess


def config_on_port(shipped: str, port: int) -> str:
    """The shipped file, line for line, but for its HTTP address: a free port, and loopback
    (the shipped 0.0.0.0 would open Tocsin to the machine's network)."""
    edits = {"  host: 0.0.0.0\n": "  host: 127.0.0.1\n", "  port: 8000\n": f"  port: {port}\n"}
    for line, replacement in edits.items():
        assert shipped.count(line) == 1, f"{line.strip()!r} is no longer in {SHIPPED_CONFIG.name}"
        shipped = shipped.replace(line, replacement)
    return shipped


def serve_cli() -> list[str]:
    """Ray's `serve` command, of the Ray this interpreter runs."""
    script = Path(sys.executable).with_name("serve")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ray.serve.scripts"]


def on_cluster(address: str, statements: str, timeout_s: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run Python statements in a driver of the cluster, with `serve` imported. `serve
    shutdown` and `serve status` reach a cluster only through its dashboard (they ignore
    RAY_ADDRESS), and this one runs none."""
    return subprocess.run(
        [sys.executable, "-c", f"import ray\nfrom ray import serve\nray.init(log_to_driver=False)\n{statements}"],
        env=environment_for_another_ray({"RAY_ADDRESS": address}), cwd=ROOT,
        capture_output=True, text=True, timeout=timeout_s,
    )


def wait_until_healthy(base_url: str, seconds: float, admin_token: str) -> httpx.Response | None:
    """The last answer of GET /healthz (with the admin token: the details too) once it is 200
    or the time is up (None: none came)."""
    deadline = time.monotonic() + seconds
    answer: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base_url}/healthz", headers={"Authorization": f"Bearer {admin_token}"}, timeout=5)
            if answer.status_code == 200:
                return answer
        except httpx.HTTPError:
            pass  # nothing listens on the port yet, or the proxy has no replica to ask
        time.sleep(1.0)
    return answer


def wait_until_running(address: str, application: str, seconds: float) -> subprocess.CompletedProcess[str]:
    """Wait, in one driver, until Serve reports the application RUNNING: every replica of
    every deployment up. /healthz answers as soon as one gateway replica does, while the
    second may still be starting. The driver prints the last status it saw."""
    return on_cluster(address, f"""
import time
deadline = time.monotonic() + {seconds}
while True:
    status = serve.status().applications.get({application!r})
    if (status is not None and status.status == "RUNNING") or time.monotonic() > deadline:
        break
    time.sleep(1.0)
print(status)
raise SystemExit(0 if status is not None and status.status == "RUNNING" else 1)
""", timeout_s=seconds + CLI_TIMEOUT_S)


@pytest.fixture(scope="module")
def serve_config_database(postgres_admin_url: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="module")
def cluster_with_tocsin_settings(
    serve_config_database: str, admin_token: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RayClusterProcess]:
    """A head and two workers whose `ray start` ran with Tocsin's settings in the environment,
    as a RayService's pods get them from a Secret: the driver, and with it every node,
    inherits this process's environment when it starts."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TOCSIN_DATABASE_URL", serve_config_database)
        env.setenv("TOCSIN_ADMIN_TOKEN", admin_token)
        cluster = RayClusterProcess(tmp_path_factory.mktemp("serve-config-cluster") / "driver.log")
        try:
            cluster.start()
        except Exception:
            cluster.stop()
            raise
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def deployed(
    cluster_with_tocsin_settings: RayClusterProcess, admin_token: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    """`serve run --non-blocking` with the shipped config, then Tocsin healthy. Serve is shut
    down before the cluster stops, so that its proxies (HAProxy is a subprocess of an actor)
    stop in order rather than with their nodes."""
    cluster = cluster_with_tocsin_settings
    port = free_port()
    config = tmp_path_factory.mktemp("serve-config") / "serve_config.yaml"
    config.write_text(config_on_port(SHIPPED_CONFIG.read_text(), port))
    try:
        submitted = subprocess.run(
            [*serve_cli(), "run", "--non-blocking", str(config)], cwd=ROOT,
            env=environment_for_another_ray({"RAY_ADDRESS": cluster.address}),
            capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
        )
        # `serve run` exits with 0 also when it gives up; it says so, though.
        said = submitted.stdout + submitted.stderr
        assert submitted.returncode == 0 and "Submitted deploy config successfully" in said, said[-4000:]
        base_url = f"http://127.0.0.1:{port}"
        health = wait_until_healthy(base_url, HEALTHY_WITHIN_S, admin_token)
        assert health is not None and health.status_code == 200, (
            f"not healthy within {HEALTHY_WITHIN_S} s: "
            f"{None if health is None else (health.status_code, health.text[:300])}\n"
            + on_cluster(cluster.address, "print(serve.status())").stdout)
        assert health.json()["shards"] == 4, health.text
        running = wait_until_running(cluster.address, "tocsin", HEALTHY_WITHIN_S)
        assert running.returncode == 0, running.stdout[-4000:] + running.stderr[-4000:]
        yield Deployed(base_url, cluster)
    finally:
        stopped = on_cluster(cluster.address, "serve.shutdown()")
        assert stopped.returncode == 0, stopped.stderr[-4000:]


def test_the_shipped_serve_config_differs_from_the_deployed_one_only_in_its_http_address() -> None:
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
    deployed = yaml.safe_load(config_on_port(SHIPPED_CONFIG.read_text(), 18000))
    assert deployed.pop("http_options") == {"host": "127.0.0.1", "port": 18000}
    assert shipped.pop("http_options") == {"host": "0.0.0.0", "port": 8000}
    assert deployed == shipped


def test_an_alert_sent_to_tocsin_deployed_by_the_serve_config_becomes_an_incident(
    deployed: Deployed, admin_token: str,
) -> None:
    service = create_service(deployed.base_url, admin_token, "serve-config")
    sent = httpx.post(f"{deployed.base_url}/v2/enqueue", json=trigger(service.key, "disk-full"), timeout=30)
    assert sent.status_code == 202, sent.text
    listed = httpx.get(f"{deployed.base_url}/api/v1/incidents", params={"service_id": service.id},
                       headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
    assert listed.status_code == 200, listed.text
    [incident] = listed.json()["incidents"]
    assert (incident["dedup_key"], incident["status"], incident["occurrences"]) == ("disk-full", "triggered", 1)


def test_the_serve_config_runs_its_four_shards_and_two_gateway_replicas_on_the_cluster(
    deployed: Deployed,
) -> None:
    placement = deployed.cluster.placement()
    shards = {a.name: a for a in placement.actors if a.name.startswith("tocsin-shard-")}
    assert sorted(shards) == [f"tocsin-shard-{i}" for i in range(4)]
    assert {a.state for a in shards.values()} == {"ALIVE"}
    # On the nodes in turn, as the builder saw them: not all on the head.
    assert {a.node_id for a in shards.values()} - {placement.head}, placement
    # The config's `args` reached the builder: two replicas where the default is one.
    gateways = [a for a in placement.actors if a.name.startswith("SERVE_REPLICA::tocsin#Gateway#")]
    assert [a.state for a in gateways] == ["ALIVE", "ALIVE"], placement.actors
