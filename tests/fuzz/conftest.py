"""Fuzzing runs against a Tocsin of its own: a second `tocsin up`, with its own Ray (Serve is
one per Ray) and its own database, so that what the fuzzers create, acknowledge, resolve and
delete (with made-up ids that may be real ones here) touches no other test. It is stopped
once the fuzz tests are done (package scope), so it is not left running beside the others."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tocsin.cluster.raystart import LOCAL_RAY_VARIABLES
from tests.conftest import LOOPBACK_NETWORKS, free_port, fresh_database, statement_runner

FUZZ_NAMESPACE = "tocsin-fuzz"


@pytest.fixture(scope="session")
def fuzz_admin_token() -> str:
    return "fuzz-admin-token-" + uuid.uuid4().hex


@pytest.fixture(scope="package")
def fuzz_database_url(postgres_admin_url: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="package")
def fuzz_db(fuzz_database_url: str) -> Callable[..., Any]:
    """fuzz_db("fetchval", sql, *args) against the fuzzed deployment's database."""
    return statement_runner(fuzz_database_url)


@pytest.fixture(scope="package")
def fuzz_tocsin(
    fuzz_database_url: str, fuzz_admin_token: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    from tests.server import TocsinProcess

    # Nothing of the run's own deployment: not its settings, its Ray, nor its Serve ports.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TOCSIN_", "RAY_ADDRESS")) and k not in LOCAL_RAY_VARIABLES}
    env.update({
        "TOCSIN_DATABASE_URL": fuzz_database_url,
        "TOCSIN_ADMIN_TOKEN": fuzz_admin_token,
        "TOCSIN_NAMESPACE": FUZZ_NAMESPACE,
        "TOCSIN_SHARD_TIMEOUT_S": "5",
        "TOCSIN_ALLOW_PRIVATE_DESTINATIONS": LOOPBACK_NETWORKS,
    })
    server = TocsinProcess(port=free_port(), data_dir=tmp_path_factory.mktemp("tocsin-fuzz"), env=env,
                           inherit_env=False, extra_args=("--shards", "1")).start(timeout_s=240)
    yield server
    assert server.stop() == 0, server.log()[-4000:]
