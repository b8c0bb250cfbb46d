"""The Teams page and the team picker: a team admin (a viewer elsewhere) sets their team's
members and makes a service in their team, and in no other."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Person, Tab, created, make_person, screenshot


def test_a_team_admin_sets_members_and_makes_services_in_their_team_only(
    new_tab: Callable[..., Tab], api: httpx.Client,
) -> None:
    name = f"Checkout {uuid.uuid4().hex[:6]}"
    team = created(api, "/api/v1/teams", {"name": name})
    other = created(api, "/api/v1/teams", {"name": f"Other {uuid.uuid4().hex[:6]}"})
    lead: Person = make_person(api, "Lea Lead", "viewer")
    newcomer = make_person(api, f"Nico {uuid.uuid4().hex[:4]}", "viewer")
    assert api.put(f"/api/v1/teams/{team['id']}/members/{lead.id}", json={"role": "admin"}).status_code == 200
    tab = new_tab(lead)

    page = tab.open(f"/ui/teams#team-{team['id']}")
    card = page.locator(f"details.card[data-team='{team['id']}']")
    expect(card).to_contain_text("you: admin")
    card.get_by_label("Person").select_option(newcomer.id)
    card.get_by_label("Role in the team").select_option("responder")
    card.get_by_role("button", name="Add or change").click()
    expect(card.locator(f"li[data-member='{newcomer.id}']")).to_contain_text("responder")
    expect(page.locator(f"details.card[data-team='{other['id']}'] form")).to_have_count(0)
    expect(page.get_by_role("button", name="Create team")).to_have_count(0)
    screenshot(page, "teams")

    page = tab.open("/ui/services")
    picker = page.get_by_label("Team", exact=True)
    expect(picker.locator("option")).to_have_text([name])
    service = f"cart {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name", exact=True).fill(service)
    page.get_by_role("button", name="Create service").click()
    expect(page.locator("details.card", has_text=service)).to_have_attribute("open", "")
    mine = api.get("/api/v1/services", params={"team": team["id"]}).json()["services"]
    assert len(mine) == 1 and mine[0]["team_id"] == team["id"]
    tab.assert_clean_console()
