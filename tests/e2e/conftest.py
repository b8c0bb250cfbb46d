from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client import Service, create_service
from tocsin.cluster.cli import main



@pytest.fixture(scope="session")
def api(tocsin: Any, admin_token: str) -> Iterator[httpx.Client]:
    """An admin client of the REST API."""
    with httpx.Client(base_url=tocsin.base_url, headers={"Authorization": f"Bearer {admin_token}"},
                      timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(tocsin: Any) -> Iterator[httpx.Client]:
    """A client with no credentials, as a monitoring source is."""
    with httpx.Client(base_url=tocsin.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def new_service(tocsin: Any, admin_token: str) -> Callable[..., Service]:
    return lambda name="checkout-api": create_service(tocsin.base_url, admin_token, name)


def incidents_of(api: httpx.Client, service_id: str, **params: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/incidents", params={"service_id": service_id, "limit": "100", **params})
    assert response.status_code == 200, response.text
    return response.json()["incidents"]  # type: ignore[no-any-return]


def audited_reply(api: httpx.Client, incident_id: int, via: str) -> dict[str, Any]:
    """The one audit log entry of an action on the incident taken by answering a page on `via`."""
    response = api.get("/api/v1/audit", params={"object_type": "incident", "object_id": str(incident_id)})
    assert response.status_code == 200, response.text
    [entry] = [e for e in response.json()["entries"] if e["via"] == via]
    return entry  # type: ignore[no-any-return]


def refused(response: httpx.Response, status: int, *names: str) -> str:
    """Assert a refusal with `status` whose message names each of `names`; the message."""
    assert response.status_code == status, response.text
    message: str = response.json()["message"]
    for name in names:
        assert name in message, message
    return message


def on_call_disagreements(api: httpx.Client, timelines: dict[str, list[tuple[datetime, datetime, str]]],
                          since: datetime) -> dict[str, list[Any]]:
    """Every 15 minutes over 14 days from `since`, each schedule's GET /schedules/{id}/oncall?at=
    against its timeline ((start, end, e-mail) entries, by schedule name): the first instants,
    by schedule, where they name other people, as (instant, the timeline's, Tocsin's)."""
    ids = {s["name"]: s["id"] for s in api.get("/api/v1/schedules").json()["schedules"]}
    steps = [since + n * timedelta(minutes=15) for n in range(14 * 24 * 4)]

    def ask(schedule_id: str, at: datetime) -> list[str]:
        answer = api.get(f"/api/v1/schedules/{schedule_id}/oncall", params={"at": at.isoformat()})
        assert answer.status_code == 200, answer.text
        return sorted(user["email"] for user in answer.json()["users"])

    found = {}
    with ThreadPoolExecutor(4) as pool:
        for name, timeline in timelines.items():
            expected = [sorted({who for start, end, who in timeline if start <= at < end}) for at in steps]
            assert any(expected), f"{name}: nobody on call in the timeline"
            answers = pool.map(lambda at, schedule_id=ids[name]: ask(schedule_id, at), steps)
            wrong = [(at, want, got) for at, want, got in zip(steps, expected, answers) if want != got]
            if wrong:
                found[name] = wrong[:5]
    return found


@contextmanager
def moving_from(tocsin: Any, admin_token: str, **variables: str) -> Iterator[None]:
    """The environment `tocsin import` and `tocsin config` run in: TOCSIN_URL, TOCSIN_TOKEN and
    the source's own `variables` (its API key)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"TOCSIN_URL": tocsin.base_url, "TOCSIN_TOKEN": admin_token, **variables}.items():
            patch.setenv(name, value)
        yield


def import_plan_and_apply(source: str, api_url: str, folder: Path) -> Path:
    """The README's steps 1 and 2: import `source` into a file in `folder`, plan it, apply it."""
    out = folder / f"{source}.yaml"
    assert main(["import", source, "--api-url", api_url, "--out", str(out)]) == 0
    assert main(["config", "plan", "-f", str(out)]) == 0
    assert main(["config", "apply", "-f", str(out)]) == 0
    return out


def check_before_and_after(source: str, api_url: str, since: datetime, change: Callable[[], None],
                           capsys: pytest.CaptureFixture[str]) -> str:
    """The README's step 3: `--check` finds no difference right after the apply, and exits 1
    once `change` has changed the source's schedule; what it printed then."""
    check = ["import", source, "--api-url", api_url, "--check", "--from", since.isoformat()]
    assert main(check) == 0
    assert "No differences" in capsys.readouterr().out
    change()
    assert main(check) == 1
    return capsys.readouterr().out
