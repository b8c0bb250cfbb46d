"""Shared fixtures. Unit tests use none of these; integration and e2e tests share one
Postgres database and one Ray instance per test run."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

SYSTEM_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# Webhook and Slack requests go to public addresses only; the tests' receivers are local.
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
IN_CI = os.environ.get("CI") == "true"

TESTS = Path(__file__).resolve().parent
# The markers each folder's tests carry, so that `-m "not e2e"` and the like select by kind.
# The folder decides here: a `pytestmark` in a conftest.py marks nothing.
FOLDER_MARKERS = {
    "unit": ("unit",), "integration": ("integration",), "e2e": ("e2e",), "browser": ("e2e", "browser"),
    "cluster": ("cluster",), "fuzz": ("e2e", "fuzz"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if not path.is_relative_to(TESTS):
            continue
        for name in FOLDER_MARKERS.get(path.relative_to(TESTS).parts[0], ()):
            item.add_marker(name)


def run_apart(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to its end on a thread of its own: callable from sync fixtures and
    tests alike, also while the test run's event loop is running in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
        return True
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        return False


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Postgres when it answers (required in CI), else an embedded one."""
    if _answers(SYSTEM_POSTGRES):
        yield SYSTEM_POSTGRES
        return
    if IN_CI:
        pytest.fail("CI needs PostgreSQL on 127.0.0.1:5432; .ci/run starts it")
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, migrated database on that server, dropped afterwards."""
    from tocsin.actors.store.migrate import migrate

    name = f"tocsin_test_{uuid.uuid4().hex[:10]}"
    run_apart(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = _with_database(admin_url, name)
    try:
        run_apart(migrate(url))
        yield url
    finally:
        run_apart(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test run, dropped at the end."""
    with fresh_database(postgres_admin_url) as url:
        yield url


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """One local Ray for the whole run, started the way `tocsin up` starts it."""
    import ray

    from tocsin.cluster.raystart import prepare_local_ray

    prepare_local_ray()  # also keeps its Serve ports clear of any other Ray on this machine
    ray.init(address="local", namespace="tocsin-tests", include_dashboard=False, num_cpus=4, configure_logging=False,
             log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def statement_runner(database_url: str) -> Callable[..., Any]:
    """One statement against a database: run("fetch", sql, *args). It runs on a thread of
    its own, so sync and async tests alike can check what was stored."""

    def run(method: str, sql: str, *args: Any) -> Any:
        async def go() -> Any:
            conn = await asyncpg.connect(database_url)
            try:
                return await getattr(conn, method)(sql, *args)
            finally:
                await conn.close()

        return run_apart(go())

    return run


@pytest.fixture(scope="session")
def db(database_url: str) -> Callable[..., Any]:
    """db("fetch", sql, *args) against the run's database."""
    return statement_runner(database_url)


E2E_NAMESPACE = "tocsin-e2e"


@pytest.fixture(scope="session")
def admin_token() -> str:
    return "test-admin-token-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[Any]:
    """A fake Twilio on loopback for the whole run (tests/fakes/twilio_server.py); `tocsin`
    sends its texts and calls there, and its phone side calls Tocsin's webhooks."""
    from tests.fakes.twilio_server import FakeTwilio

    with FakeTwilio() as twilio:
        yield twilio


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[Any]:
    """A fake Slack on loopback for the whole run (tests/fakes/slack_api.py): `tocsin` posts
    pages through its Web API, and its side presses the pages' buttons, signed as Slack signs."""
    from tests.fakes.slack_api import FakeSlack

    with FakeSlack() as slack:
        yield slack


@pytest.fixture(scope="session")
def fake_idp() -> Iterator[Any]:
    """An OpenID Connect provider on loopback for the whole run (tests/fakes/oidc_provider.py):
    `tocsin` signs people in through it."""
    from tests.fakes.oidc_provider import FakeIdentityProvider

    with FakeIdentityProvider() as idp:
        yield idp


@pytest.fixture(scope="session")
def tocsin(
    ray_address: str, database_url: str, admin_token: str, fake_twilio: Any, fake_slack: Any, fake_idp: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[object]:
    """`tocsin up --address` attached to the run's Ray, on the run's database."""
    from tests.server import TocsinProcess

    smtp_port = free_port()
    server = TocsinProcess(
        port=free_port(),
        data_dir=tmp_path_factory.mktemp("tocsin"),
        env={
            "TOCSIN_DATABASE_URL": database_url,
            "TOCSIN_ADMIN_TOKEN": admin_token,
            "TOCSIN_NAMESPACE": E2E_NAMESPACE,
            "TOCSIN_SHARD_TIMEOUT_S": "5",
            "TOCSIN_SMTP_LISTEN_PORT": str(smtp_port),
            # The receivers standing in for Slack and webhooks listen on loopback.
            "TOCSIN_ALLOW_PRIVATE_DESTINATIONS": LOOPBACK_NETWORKS,
            **fake_twilio.env(),
            **fake_slack.env(),
            **fake_idp.env(),
        },
        extra_args=("--address", ray_address, "--shards", "2"),
    ).start()
    fake_twilio.inbound_url = f"{server.base_url}/webhooks/twilio/sms"
    server.smtp_port = smtp_port  # type: ignore[attr-defined]  # where e-mail to alert is sent
    yield server
    assert server.stop() == 0, server.log()
