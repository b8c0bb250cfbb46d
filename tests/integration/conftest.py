from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import fresh_database



@pytest.fixture
def service_id(db: Callable[..., Any]) -> Iterator[str]:
    """A service row made directly in the database, for tests that drive a shard without HTTP."""
    sid = str(uuid.uuid4())
    db("execute", "INSERT INTO services (id, name) VALUES ($1, 'integration')", sid)
    yield sid


@pytest.fixture(scope="module")
def own_database(postgres_admin_url: str) -> Iterator[str]:
    """A database for one test module, for tests that claim every due row of a channel (as
    a sender does) while the test deployment's channel actors work on the run's database."""
    with fresh_database(postgres_admin_url) as url:
        yield url
