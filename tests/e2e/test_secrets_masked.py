"""Secrets stay with their owners: a Slack or webhook URL, a push address and a calendar
feed's token are shown in full to their owner and to admins; colleagues and viewers, who
still see how a person is reached, see them masked or not at all."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.accounts import Login, logged_in, make_user

# On loopback, which test deployments may send to; nothing is sent to them here.
SLACK = "http://127.0.0.1:9/services/T0LD3N/B0RDER/sl4ckS3cretT0ken"
WEBHOOK = "http://localhost:8443/tocsin/hook?token=w3bh00kS3cret"
TEAMS = "http://127.0.0.1:9/workflows/f10w/triggers/manual/paths/invoke?sig=t3amsS1gnature"
PUSH = "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/pager/5ec0e7-d3v1ce-a1b2"
METHODS = [("sms", "+14155550123"), ("email", "dana.on.call@example.com"), ("slack", SLACK),
           ("webhook", WEBHOOK), ("push", PUSH), ("teams", TEAMS)]
MASKED = {"sms": "+14155550123", "email": "dana.on.call@example.com", "slack": "http://127.0.0.1/…",
          "webhook": "http://localhost/…", "push": "…a1b2", "teams": "http://127.0.0.1/…"}
SECRETS = ["sl4ckS3cretT0ken", "T0LD3N", "w3bh00kS3cret", "8443", "5ec0e7-d3v1ce", "t3amsS1gnature", "f10w"]


def _headers(reader: Login | str) -> dict[str, str]:
    return reader.headers(csrf=False) if isinstance(reader, Login) else {"Authorization": f"Bearer {reader}"}


def _get(tocsin: Any, path: str, reader: Login | str) -> httpx.Response:
    response = httpx.get(tocsin.base_url + path, headers=_headers(reader), timeout=30)
    assert response.status_code == 200, response.text
    return response


@pytest.fixture(scope="module")
def team(api: httpx.Client, tocsin: Any) -> dict[str, Login]:
    """Dana (a responder) with a contact method of every kind, made herself; a colleague, a
    viewer and an admin, each logged in."""
    people = {role: logged_in(tocsin.base_url, make_user(api, kind))
              for role, kind in (("owner", "responder"), ("colleague", "responder"), ("viewer", "viewer"),
                                 ("admin", "admin"))}
    owner = people["owner"]
    for kind, address in METHODS:
        made = httpx.post(f"{tocsin.base_url}/api/v1/users/{owner.user['id']}/contact-methods",
                          json={"kind": kind, "address": address}, headers=owner.headers(), timeout=30)
        assert made.status_code == 201, made.text
    return people


@pytest.mark.parametrize("reader", ["owner", "admin", "admin token"])
def test_the_owner_and_admins_see_every_address_in_full(tocsin: Any, admin_token: str, team: dict[str, Login],
                                                        reader: str) -> None:
    who = admin_token if reader == "admin token" else team[reader]
    listed = _get(tocsin, f"/api/v1/users/{team['owner'].user['id']}/contact-methods", who).json()

    assert sorted((m["kind"], m["address"]) for m in listed["contact_methods"]) == sorted(METHODS)


@pytest.mark.parametrize("reader", ["colleague", "viewer"])
def test_anyone_else_sees_slack_webhook_and_push_addresses_masked(tocsin: Any, team: dict[str, Login],
                                                                  reader: str) -> None:
    response = _get(tocsin, f"/api/v1/users/{team['owner'].user['id']}/contact-methods", team[reader])

    assert {m["kind"]: m["address"] for m in response.json()["contact_methods"]} == MASKED
    for secret in SECRETS:
        assert secret not in response.text


def test_a_calendar_feed_is_shown_to_its_owner_and_admins_only(api: httpx.Client, tocsin: Any,
                                                                team: dict[str, Login]) -> None:
    owner_id = team["owner"].user["id"]
    feed = api.get(f"/api/v1/users/{owner_id}").json()["calendar_url"]
    token = feed.split("token=", 1)[1]

    assert _get(tocsin, f"/api/v1/users/{owner_id}", team["owner"]).json()["calendar_url"] == feed
    assert _get(tocsin, f"/api/v1/users/{owner_id}", team["admin"]).json()["calendar_url"] == feed
    for reader in ("colleague", "viewer"):
        one = _get(tocsin, f"/api/v1/users/{owner_id}", team[reader])
        everyone = _get(tocsin, "/api/v1/users", team[reader])
        assert one.json()["calendar_url"] is None
        assert token not in one.text and token not in everyone.text
        own = [u for u in everyone.json()["users"] if u["id"] == team[reader].user["id"]]
        assert own[0]["calendar_url"], "everyone sees their own feed"
    assert httpx.get(feed, timeout=30).status_code == 200  # the URL shown is the one that opens the feed


def test_a_schedule_feed_is_shown_to_admins_only(api: httpx.Client, tocsin: Any, team: dict[str, Login]) -> None:
    owner_id = team["owner"].user["id"]
    schedule = api.post("/api/v1/schedules", json={
        "name": "Dana's rota", "time_zone": "UTC",
        "layers": [{"name": "weekly", "rotation": {"participants": [owner_id], "start": "2026-01-05T09:00:00Z",
                                                    "shift_length": 1, "unit": "weeks", "handoff": "09:00"}}],
    })
    assert schedule.status_code == 201, schedule.text
    path = f"/api/v1/schedules/{schedule.json()['id']}"
    token = schedule.json()["calendar_url"].split("token=", 1)[1]

    assert _get(tocsin, path, team["admin"]).json()["calendar_url"] == schedule.json()["calendar_url"]
    for reader in ("owner", "colleague", "viewer"):
        one = _get(tocsin, path, team[reader])
        every = _get(tocsin, "/api/v1/schedules", team[reader])
        assert one.json()["calendar_url"] is None and one.json()["layers"] == schedule.json()["layers"]
        assert token not in one.text and token not in every.text
