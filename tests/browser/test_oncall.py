"""The on-call view: who is on call now, the next two weeks, and overrides made in the browser."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Person, Tab, created, make_person



@pytest.fixture
def rota(api: httpx.Client) -> dict[str, Any]:
    """A weekly schedule that has Olga on call now, and a policy paging it at level 2."""
    olga = make_person(api, "Olga Oncall", "responder")
    week_ago = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    schedule = created(api, "/api/v1/schedules", {
        "name": f"Primary {uuid.uuid4().hex[:6]}", "time_zone": "Europe/Berlin",
        "layers": [{"name": "weekly", "rotation": {"participants": [olga.id], "start": week_ago,
                                                   "shift_length": 1, "unit": "weeks", "handoff": "09:00"}}],
    })
    policy = created(api, "/api/v1/escalation-policies", {"name": f"Checkout {uuid.uuid4().hex[:6]}", "levels": [
        {"delay_minutes": 5, "targets": [{"type": "user", "id": olga.id}]},
        {"delay_minutes": 10, "targets": [{"type": "schedule", "id": schedule["id"]}]},
    ]})
    return {"olga": olga, "schedule": schedule, "policy": policy}


def test_an_override_made_in_the_browser_changes_who_is_on_call(
    new_tab: Callable[..., Tab], responder: Person, rota: dict[str, Any],
) -> None:
    schedule = rota["schedule"]
    tab = new_tab(responder)
    page = tab.open("/ui/oncall")
    now_cell = page.locator(f"#now-schedules tr[data-schedule='{schedule['id']}'] td")
    expect(now_cell).to_have_text("Olga Oncall")
    levels = page.locator("#now-levels tr", has_text=rota["policy"]["name"])
    expect(levels.nth(1)).to_contain_text(f"Olga Oncall ({schedule['name']})")

    people = page.get_by_label("Person on call instead")
    expect(people.locator("option")).to_have_text([responder.name])  # a responder puts only themselves on call
    page.get_by_label("Schedule", exact=True).select_option(label=schedule["name"])
    page.get_by_role("button", name="Create override").click()

    expect(now_cell).to_have_text(responder.name)
    expect(levels.nth(1)).to_contain_text(f"{responder.name} ({schedule['name']})")
    timeline = page.locator(".schedule-timeline", has_text=schedule["name"])
    expect(timeline.locator(".shift-list li.override").first).to_contain_text(responder.name)
    expect(timeline.locator(".shift-bar .shift.override").first).to_be_attached()
    expect(page.locator("#overrides tbody tr", has_text=schedule["name"])).to_contain_text(responder.name)
    tab.assert_clean_console()


def test_an_admin_puts_someone_else_on_call_and_takes_it_back(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client, rota: dict[str, Any],
) -> None:
    stand_in = make_person(api, f"Stan {uuid.uuid4().hex[:4]}", "responder")
    schedule = rota["schedule"]
    tab = new_tab(admin_person)
    page = tab.open("/ui/oncall")
    now_cell = page.locator(f"#now-schedules tr[data-schedule='{schedule['id']}'] td")

    page.get_by_label("Schedule", exact=True).select_option(label=schedule["name"])
    page.get_by_label("Person on call instead").select_option(label=stand_in.name)
    page.get_by_role("button", name="Create override").click()
    expect(now_cell).to_have_text(stand_in.name)

    page.locator("#overrides tbody tr", has_text=stand_in.name).get_by_role("button", name="Delete").click()
    expect(now_cell).to_have_text("Olga Oncall")
    tab.assert_clean_console()


def test_an_override_with_its_end_before_its_start_is_refused_with_the_reason(
    new_tab: Callable[..., Tab], responder: Person, rota: dict[str, Any],
) -> None:
    schedule = rota["schedule"]
    page = new_tab(responder).open("/ui/oncall")

    page.get_by_label("Schedule", exact=True).select_option(label=schedule["name"])
    page.get_by_label("Until").fill("2020-01-01T08:00")
    page.get_by_role("button", name="Create override").click()

    expect(page.locator("#override-form .form-error")).to_contain_text("end must be after start")
    expect(page.locator(f"#now-schedules tr[data-schedule='{schedule['id']}'] td")).to_have_text("Olga Oncall")


def test_the_next_two_weeks_are_drawn_for_each_schedule(
    new_tab: Callable[..., Tab], viewer: Person, rota: dict[str, Any],
) -> None:
    tab = new_tab(viewer)
    page = tab.open("/ui/oncall")

    timeline = page.locator(".schedule-timeline", has_text=rota["schedule"]["name"])
    expect(timeline.locator(".shift-bar .shift").first).to_be_attached()
    expect(timeline.locator(".shift-bar .tick")).to_have_count(14)
    expect(timeline.locator(".shift-list li").first).to_contain_text("Olga Oncall")
    tab.assert_clean_console()
