"""Tocsin on a multi-node Ray cluster on this machine, for the failover tests.

A test run shares one Ray (the `ray_address` fixture), and a process is the driver of one
Ray only, so nothing here connects this process to a Ray: the cluster (a head and two
worker nodes, ray.cluster_utils.Cluster) runs in a process of its own
(tests/cluster/driver.py), `tocsin up --address` attaches to it as a user would, and the
tests see Tocsin over HTTP and Postgres, and the cluster through its driver. Both Rays may
run side by side: the cluster picks its own ports.

The gateway runs on the head (the workers offer no CPU, and the replica asks for some), so
a worker node's death takes shards and channel actors with it, the actors Tocsin itself
must bring back; replacing lost Serve replicas is Ray Serve's own business.
Everything runs on a Postgres of the module's own, which the database-outage test stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cluster.cluster_process import RayClusterProcess, environment_for_another_ray
from tests.cluster.private_postgres import PrivatePostgres
from tests.conftest import LOOPBACK_NETWORKS, free_port, fresh_database, statement_runner
from tests.fakes.http_receiver import HttpReceiver
from tests.server import TocsinProcess

SHARDS = 4
SHARD_TIMEOUT_S = 5


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as postgres:
        yield postgres


@pytest.fixture(scope="module")
def cluster_database(private_postgres: PrivatePostgres) -> Iterator[str]:
    with fresh_database(private_postgres.url) as url:
        yield url


@pytest.fixture(scope="module")
def cluster_db(cluster_database: str) -> Callable[..., Any]:
    """cluster_db("fetch", sql, *args) against the cluster's database."""
    return statement_runner(cluster_database)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayClusterProcess]:
    with RayClusterProcess(tmp_path_factory.mktemp("ray-cluster") / "driver.log") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def pager() -> Iterator[HttpReceiver]:
    """Where people's webhook contact methods point: records every page."""
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def tocsin_on_cluster(
    ray_cluster: RayClusterProcess, cluster_database: str, admin_token: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TocsinProcess]:
    """`tocsin up --address` on the cluster, with four shards, one gateway replica, pages
    by webhook at a rate and throttle no test reaches."""
    server = TocsinProcess(
        port=free_port(),
        data_dir=tmp_path_factory.mktemp("tocsin-on-cluster"),
        env=environment_for_another_ray({
            "TOCSIN_DATABASE_URL": cluster_database,
            "TOCSIN_ADMIN_TOKEN": admin_token,
            "TOCSIN_NAMESPACE": "tocsin-cluster",
            "TOCSIN_SHARD_TIMEOUT_S": str(SHARD_TIMEOUT_S),
            "TOCSIN_RATE_WEBHOOK_PER_S": "500",
            "TOCSIN_THROTTLE_MESSAGES": "1000000",
            "TOCSIN_ALLOW_PRIVATE_DESTINATIONS": LOOPBACK_NETWORKS,  # the pager receiver is local
        }),
        extra_args=("--address", ray_cluster.address, "--shards", str(SHARDS)),
        inherit_env=False,
    ).start()
    yield server
    assert server.stop() == 0, server.log()[-4000:]
