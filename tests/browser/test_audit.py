"""The Audit page in Chromium: an admin's rename of a service shows as an entry with who made
it and the name before and after; the filters narrow the list and stay in the address; a
responder, who may not read the log, is told so."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, Person, Tab, created, screenshot


@pytest.fixture(scope="module")
def renamed(api: httpx.Client) -> dict[str, Any]:
    """A service made and then renamed by the admin token."""
    service = created(api, "/api/v1/services", {"name": f"ledger {uuid.uuid4().hex[:4]}"})
    response = api.patch(f"/api/v1/services/{service['id']}", json={"name": service["name"] + " v2"})
    assert response.status_code == 200, response.text
    return {"id": service["id"], "old": service["name"], "new": service["name"] + " v2"}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_audit_page_shows_a_change_with_its_actor_and_before_and_after(
    new_tab: Callable[..., Tab], admin_person: Person, renamed: dict[str, Any], viewport: dict[str, int],
) -> None:
    tab = new_tab(admin_person, viewport)
    page = tab.open("/ui/audit")
    expect(page.locator("body")).to_have_attribute("data-audit", "shown")

    page.get_by_label("Object id").fill(renamed["id"])
    page.get_by_label("Object id").dispatch_event("change")
    expect(page).to_have_url(f"{page.url.split('?')[0]}?object_id={renamed['id']}")
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(2)
    update = rows.first
    expect(update).to_contain_text("update")
    expect(update).to_contain_text("admin (admin-token)")
    expect(update).to_contain_text(renamed["new"])
    update.locator("summary").click()
    expect(update.locator("pre[data-side=before]")).to_contain_text(f'"name": "{renamed["old"]}"')
    expect(update.locator("pre[data-side=after]")).to_contain_text(f'"name": "{renamed["new"]}"')
    expect(rows.nth(1)).to_contain_text("create")
    expect(page.locator("#audit-export")).to_have_attribute("href", f"/api/v1/audit?object_id={renamed['id']}"
                                                                     "&format=jsonl")
    screenshot(page, "audit-entry")
    tab.assert_clean_console()


def test_a_responder_is_told_the_log_is_for_admins(new_tab: Callable[..., Tab], responder: Person) -> None:
    tab = new_tab(responder)
    page = tab.open("/ui/audit")

    expect(page.locator("body")).to_have_attribute("data-audit", "failed")
    expect(page.locator("#audit-error")).to_contain_text("admin role")
    tab.assert_clean_console("403")
