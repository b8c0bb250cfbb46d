"""Fuzzing runs against a Tocsin of its own: a second `tocsin up` on the run's Ray, in a
namespace and on a database of its own, so that what the fuzzers create, acknowledge,
resolve and delete (with made-up ids that may be real ones here) touches no other test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import LOOPBACK_NETWORKS, free_port, fresh_database, statement_runner

FUZZ_NAMESPACE = "tocsin-fuzz"


@pytest.fixture(scope="session")
def fuzz_admin_token() -> str:
    return "fuzz-admin-token-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def fuzz_database_url(postgres_admin_url: str) -> Iterator[str]:
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def fuzz_db(fuzz_database_url: str) -> Callable[..., Any]:
    """fuzz_db("fetchval", sql, *args) against the fuzzed deployment's database."""
    return statement_runner(fuzz_database_url)


@pytest.fixture(scope="session")
def fuzz_tocsin(
    ray_address: str, fuzz_database_url: str, fuzz_admin_token: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    from tests.server import TocsinProcess

    server = TocsinProcess(
        port=free_port(),
        data_dir=tmp_path_factory.mktemp("tocsin-fuzz"),
        env={
            "TOCSIN_DATABASE_URL": fuzz_database_url,
            "TOCSIN_ADMIN_TOKEN": fuzz_admin_token,
            "TOCSIN_NAMESPACE": FUZZ_NAMESPACE,
            "TOCSIN_SHARD_TIMEOUT_S": "5",
            "TOCSIN_ALLOW_PRIVATE_DESTINATIONS": LOOPBACK_NETWORKS,
        },
        extra_args=("--address", ray_address, "--shards", "1"),
    ).start()
    yield server
    assert server.stop() == 0, server.log()[-4000:]
