"""Shift handoffs over HTTP against `tocsin up`: people told of their shifts at the webhook
they chose, and reachability checks acknowledged or missed.

The shifts are overrides a few seconds ahead of the wall clock, so the monitor's handoffs
happen while the test waits (each wait is bounded, and ends as soon as what it waits for
has arrived).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.client import create_user
from tests.fakes.http_receiver import HttpReceiver

WAIT_S = 45


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


class People:
    def __init__(self, api: httpx.Client, tocsin: Any, admin_token: str, receiver: HttpReceiver) -> None:
        self.api, self.tocsin, self.admin_token, self.receiver = api, tocsin, admin_token, receiver

    def person(self, name: str) -> dict[str, Any]:
        """A user reached (paged first) at their own path of the receiver."""
        user = create_user(self.tocsin.base_url, self.admin_token, name, time_zone="Europe/Berlin")
        method = self.created(f"/api/v1/users/{user['id']}/contact-methods",
                              {"kind": "webhook", "address": f"{self.receiver.url}/{user['id']}", "verified": True})
        self.created(f"/api/v1/users/{user['id']}/notification-rules",
                     {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
        return {**user, "method_id": method["id"]}

    def schedule(self, **handoffs: Any) -> dict[str, Any]:
        return self.created("/api/v1/schedules", {"name": "Primary", "time_zone": "Europe/Berlin", "layers": [],
                                                  **handoffs})

    def on_call(self, schedule: dict[str, Any], user: dict[str, Any], start_s: float, end_s: float) -> datetime:
        now = datetime.now(timezone.utc)
        start = now + timedelta(seconds=start_s)
        self.created(f"/api/v1/schedules/{schedule['id']}/overrides", {
            "user_id": user["id"], "start": start.isoformat(), "end": (now + timedelta(seconds=end_s)).isoformat()})
        return start

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def texts(self, user: dict[str, Any]) -> list[str]:
        return [r.json()["text"] for r in self.receiver.requests if r.path == f"/{user['id']}"]

    def wait_for(self, user: dict[str, Any], count: int) -> list[str]:
        deadline = time.monotonic() + WAIT_S
        while len(self.texts(user)) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.texts(user)


@pytest.fixture
def people(api: httpx.Client, tocsin: Any, admin_token: str, receiver: HttpReceiver) -> People:
    return People(api, tocsin, admin_token, receiver)


def test_a_person_is_told_ahead_at_the_start_and_at_the_end_of_their_shift(people: People) -> None:
    ann, bob = people.person("Ann"), people.person("Bob")
    for person, lead in ((ann, 1), (bob, 0)):
        chosen = people.api.put(f"/api/v1/users/{person['id']}/shift-notices",
                                json={"contact_method_id": person["method_id"], "lead_minutes": lead})
        assert chosen.json() == {"contact_method_id": person["method_id"], "lead_minutes": lead}, chosen.text
    schedule = people.schedule()
    people.on_call(schedule, ann, 65, 3600)  # starts in a little over a minute: told now, "in 1 min"
    people.on_call(schedule, bob, 3, 8)

    assert re.fullmatch(r"Your on-call shift for Primary starts at \d\d:\d\d Europe/Berlin \(in 1 min\)\.",
                        people.wait_for(ann, 1)[0])
    texts = people.wait_for(bob, 2)
    assert texts[0].startswith("Your on-call shift for Primary starts now, until ")
    assert re.fullmatch(r"Your on-call shift for Primary ended at \d\d:\d\d Europe/Berlin\.", texts[1])


def test_nobody_gets_shift_notices_unless_they_chose_where(people: People, receiver: HttpReceiver) -> None:
    ann = people.person("Ann")
    assert people.api.get(f"/api/v1/users/{ann['id']}/shift-notices").json() == {
        "contact_method_id": None, "lead_minutes": 30}
    elsewhere = people.person("Erin")
    refused = people.api.put(f"/api/v1/users/{ann['id']}/shift-notices",
                             json={"contact_method_id": elsewhere["method_id"], "lead_minutes": 30})
    assert refused.status_code == 422 and "has no contact method" in refused.text
    assert people.api.put(f"/api/v1/users/{ann['id']}/shift-notices",
                          json={"contact_method_id": None, "lead_minutes": 1441}).status_code == 422


def checks_of(people: People, schedule: dict[str, Any], until: Callable[[list[dict[str, Any]]], bool]
              ) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT_S
    while True:
        response = people.api.get(f"/api/v1/schedules/{schedule['id']}/checks")
        assert response.status_code == 200, response.text
        checks: list[dict[str, Any]] = response.json()["checks"]
        if until(checks) or time.monotonic() > deadline:
            return checks
        time.sleep(0.3)


def link_in(text: str) -> str:
    found = re.search(r"https?://\S+/api/v1/checks/[\w-]+", text)
    assert found is not None, text
    return found.group(0)


def test_a_check_not_acknowledged_by_the_shift_start_is_told_to_the_owner(people: People) -> None:
    ann, olga = people.person("Ann"), people.person("Olga")
    schedule = people.schedule(owner_id=olga["id"], reachability_check=True, check_lead_minutes=60)
    assert (schedule["owner_id"], schedule["reachability_check"]) == (olga["id"], True)
    people.on_call(schedule, ann, 6, 3600)

    [page] = people.wait_for(ann, 1)
    assert page.startswith("Reachability check: your on-call shift for Primary starts at ")
    [told] = people.wait_for(olga, 1)

    assert re.fullmatch(r"Ann did not confirm the reachability check for their on-call shift for Primary,"
                        r" which started at \d\d:\d\d Europe/Berlin\.", told)
    [check] = checks_of(people, schedule, lambda checks: checks[0]["status"] == "missed")
    assert (check["user_name"], check["status"], check["told"], check["acknowledged_at"]) == (
        "Ann", "missed", [olga["id"]], None)
    assert httpx.post(link_in(page)).status_code == 409  # too late


def test_an_acknowledged_check_tells_nobody(people: People, anonymous: httpx.Client) -> None:
    ann, olga = people.person("Ann"), people.person("Olga")
    schedule = people.schedule(owner_id=olga["id"], reachability_check=True, check_lead_minutes=1)
    start = people.on_call(schedule, ann, 6, 3600)

    [page] = people.wait_for(ann, 1)
    link = link_in(page)
    path = link[link.index("/api/v1/checks/"):]
    shown = anonymous.get(path)
    assert shown.status_code == 200 and "<form method=post" in shown.text
    acknowledged = anonymous.post(path)
    assert acknowledged.status_code == 200, acknowledged.text
    assert anonymous.post(path).status_code == 410  # single use
    assert anonymous.post(path[:-2] + "xx").status_code == 404

    while datetime.now(timezone.utc) < start + timedelta(seconds=3):  # past the start, and a round or two
        time.sleep(0.3)
    [check] = checks_of(people, schedule, lambda checks: True)
    assert (check["status"], check["told"]) == ("acknowledged", [])
    assert people.texts(olga) == []
