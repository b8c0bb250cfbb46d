"""Shift handoffs in the dashboard: a responder chooses where they hear of their shifts, and
an admin gives a schedule an owner and a reachability check, whose checks the page lists."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Person, Tab, created, make_person


def test_a_responder_turns_their_shift_notices_on(
    new_tab: Callable[..., Tab], api: httpx.Client,
) -> None:
    me = make_person(api, f"Nora {uuid.uuid4().hex[:6]}", "responder")
    method = created(api, f"/api/v1/users/{me.id}/contact-methods",
                     {"kind": "email", "address": "nora@example.com", "verified": True})
    tab = new_tab(me)
    page = tab.open("/ui/users")
    card = page.locator(f"details.card[data-user='{me.id}']")
    expect(card.locator(".shift-notices")).to_contain_text("Off")

    card.get_by_label("Tell me of my shifts at").select_option(label="email nora@example.com")
    card.get_by_label("Minutes ahead").fill("15")
    card.get_by_role("button", name="Save shift notices").click()

    expect(page.locator(f"details.card[data-user='{me.id}'] .shift-notices")).to_contain_text(
        "Told of each on-call shift at email nora@example.com: 15 min before it starts")
    assert api.get(f"/api/v1/users/{me.id}/shift-notices").json() == {
        "contact_method_id": method["id"], "lead_minutes": 15}
    tab.assert_clean_console()


def test_an_admin_sets_a_schedules_owner_and_check_and_sees_its_checks(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    oncall, owner = make_person(api, "Otto", "responder"), make_person(api, f"Olga {uuid.uuid4().hex[:6]}", "admin")
    name = f"Handoff rota {uuid.uuid4().hex[:6]}"
    schedule = created(api, "/api/v1/schedules", {"name": name, "time_zone": "UTC", "layers": []})
    tab = new_tab(admin_person)
    page = tab.open("/ui/schedules")
    card = page.locator("article.card", has_text=name)
    expect(card.locator(".handoffs")).to_have_text("Owner: none · no reachability check")

    card.get_by_label("Owner").select_option(label=owner.name)
    card.get_by_label("Reachability check").check()
    card.get_by_label("Minutes before the shift").fill("30")
    card.get_by_role("button", name="Save").click()
    expect(page.locator("article.card", has_text=name).locator(".handoffs")).to_have_text(
        f"Owner: {owner.name} · reachability check 30 min before each shift")

    start = datetime.now(timezone.utc) + timedelta(minutes=10)
    created(api, f"/api/v1/schedules/{schedule['id']}/overrides", {
        "user_id": oncall.id, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()})
    for _ in range(30):  # the monitor plans the check within a round or two
        page = tab.open("/ui/schedules")
        checks = page.locator("article.card", has_text=name).locator(".checks li")
        if checks.count():
            break
        page.wait_for_timeout(500)
    expect(checks.first).to_contain_text("Otto, shift at")
    tab.assert_clean_console()
