from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def service_id(db: Callable[..., Any]) -> Iterator[str]:
    """A service row made directly in the database, for tests that drive a shard without HTTP."""
    sid = str(uuid.uuid4())
    db("execute", "INSERT INTO services (id, name) VALUES ($1, 'integration')", sid)
    yield sid
