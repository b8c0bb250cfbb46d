"""The Rules page: an admin makes a rule through the form and finds it listed, reorders rules by
dragging them or with the arrow buttons, is shown what the API refuses next to the form, and
tries an Alertmanager payload in the test panel; a viewer reads the rules and changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Person, Tab, created


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def new_service(api: httpx.Client) -> dict[str, Any]:
    return created(api, "/api/v1/services", {"name": unique("inventory")})


def new_rule(api: httpx.Client, service: dict[str, Any], name: str, **spec: Any) -> dict[str, Any]:
    return created(api, "/api/v1/rules", {"kind": "service", "service_id": service["id"], "name": name, **spec})


def rules_of(api: httpx.Client, service: dict[str, Any]) -> list[dict[str, Any]]:
    listed = api.get("/api/v1/rules", params={"kind": "service", "service_id": service["id"]})
    assert listed.status_code == 200, listed.text
    return listed.json()["rules"]  # type: ignore[no-any-return]


def open_rules(tab: Tab, service: dict[str, Any]) -> Page:
    return tab.open(f"/ui/rules?kind=service&service_id={service['id']}")


def conditions(page: Page) -> Locator:
    return page.locator("#rule-form [data-condition=conditions]")


def names_in_order(page: Page) -> Locator:
    return page.locator("#rules > li .rule-title strong")


def alertmanager_notification(**labels: str) -> dict[str, Any]:
    labels = {"alertname": "DiskFull", "instance": "db-1:9100", "job": "node", **labels}
    return {
        "version": "4", "groupKey": '{}:{alertname="DiskFull"}', "truncatedAlerts": 0, "status": "firing",
        "receiver": "tocsin", "groupLabels": {"alertname": "DiskFull"}, "commonLabels": labels,
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "disk 95% full"},
                    "startsAt": "2026-03-02T09:29:51Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph"}],
    }


def test_an_admin_creates_a_rule_through_the_form_and_sees_it_listed(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    service = new_service(api)
    tab = new_tab(admin_person)
    page = open_rules(tab, service)
    expect(page.locator("#no-rules")).to_be_visible()
    form = page.locator("#rule-form")

    form.get_by_label("Name", exact=True).fill("Disks are critical")
    conditions(page).get_by_label("Field", exact=True).fill("labels.alertname")
    conditions(page).get_by_label("Value", exact=True).fill("DiskFull")
    conditions(page).get_by_role("button", name="Add a condition").click()
    conditions(page).get_by_label("Field", exact=True).nth(1).fill("labels.env")
    conditions(page).get_by_label("Operator", exact=True).nth(1).select_option("in")
    conditions(page).get_by_label("Value", exact=True).nth(1).fill("prod, staging")
    form.get_by_label("Severity").select_option("critical")
    form.get_by_label("Summary template").fill("{{labels.alertname}} on {{labels.instance}}")
    form.get_by_label("Tags (comma-separated templates)").fill("storage, {{labels.team}}")
    form.get_by_label("pause for").check()
    form.get_by_label("Minutes to pause").fill("15")
    form.get_by_role("button", name="Add rule").click()

    item = page.locator("#rules > li", has_text="Disks are critical")
    expect(item.locator(".rule-summary")).to_have_text(
        'When labels.alertname = "DiskFull" and labels.env in ["prod", "staging"]: severity critical, '
        "summary “{{labels.alertname}} on {{labels.instance}}”, tags storage, {{labels.team}}, pause 15 min")
    expect(item.locator("[data-count=hour]")).to_have_text("0")
    expect(item.locator("[data-count=day]")).to_have_text("0")
    expect(form.get_by_label("Name", exact=True)).to_have_value("")  # ready for the next rule

    [rule] = rules_of(api, service)
    assert rule["conditions"] == {"all": [
        {"field": "labels.alertname", "op": "equals", "value": "DiskFull"},
        {"field": "labels.env", "op": "in", "values": ["prod", "staging"]}]}
    assert rule["actions"] == {"severity": "critical", "summary": "{{labels.alertname}} on {{labels.instance}}",
                               "tags": ["storage", "{{labels.team}}"], "pause_minutes": 15}
    assert rule["enabled"] is True and rule["continue"] is False
    tab.assert_clean_console()


def test_an_admin_edits_a_rule_whose_conditions_need_the_json_editor(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    service = new_service(api)
    office_hours = {"time": {"zone": "Europe/Lisbon", "weekdays": ["mon", "fri"], "from": "09:00", "to": "18:00"}}
    rule = new_rule(api, service, "Quiet nights", conditions={"not": office_hours}, actions={"urgency": "low"})
    tab = new_tab(admin_person)
    page = open_rules(tab, service)

    page.get_by_role("button", name="Edit Quiet nights").click()
    editor = conditions(page).get_by_label("Conditions as JSON")
    expect(editor).to_be_visible()
    assert json.loads(editor.input_value()) == {"not": office_hours}
    editor.fill(json.dumps({"any": [office_hours, {"field": "severity", "op": "equals", "value": "info"}]}))
    page.locator("#rule-form").get_by_label("Urgency").select_option("high")
    page.get_by_role("button", name="Save rule").click()

    expect(page.locator("#rule-form-title")).to_have_text("Add a rule")
    expect(page.locator(f"#rules > li[data-rule='{rule['id']}'] .rule-summary")).to_have_text(
        'When time mon, fri 09:00–18:00 Europe/Lisbon or severity = "info": urgency high')
    [saved] = rules_of(api, service)
    assert saved["conditions"]["any"][0] == office_hours and saved["actions"] == {"urgency": "high"}
    assert saved["version"] == rule["version"] + 1
    tab.assert_clean_console()


def test_an_admin_reorders_rules_by_dragging_and_with_the_keyboard(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    service = new_service(api)
    for name in ("First", "Second", "Third"):
        new_rule(api, service, name, conditions={"field": "labels.alertname", "op": "equals", "value": name})
    tab = new_tab(admin_person)
    page = open_rules(tab, service)
    expect(names_in_order(page)).to_have_text(["First", "Second", "Third"])

    page.locator("#rules > li", has_text="Third").drag_to(page.locator("#rules > li", has_text="First"))

    expect(names_in_order(page)).to_have_text(["Third", "First", "Second"])
    expect(page.locator("#announcer")).to_have_text("New order saved.")
    assert [rule["name"] for rule in rules_of(api, service)] == ["Third", "First", "Second"]

    page.get_by_role("button", name="Move Third down").click()
    expect(names_in_order(page)).to_have_text(["First", "Third", "Second"])
    expect(page.get_by_role("button", name="Move Third down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(names_in_order(page)).to_have_text(["First", "Second", "Third"])
    expect(page.get_by_role("button", name="Move Third down")).to_be_disabled()
    expect(page.get_by_role("button", name="Move Third up")).to_be_focused()
    assert [rule["name"] for rule in rules_of(api, service)] == ["First", "Second", "Third"]
    tab.assert_clean_console()


def test_a_bad_regular_expression_is_refused_with_the_problem_next_to_the_conditions(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    service = new_service(api)
    tab = new_tab(admin_person)
    page = open_rules(tab, service)
    form = page.locator("#rule-form")

    form.get_by_label("Name", exact=True).fill("Broken pattern")
    conditions(page).get_by_label("Field", exact=True).fill("labels.alertname")
    conditions(page).get_by_label("Operator", exact=True).select_option("matches")
    conditions(page).get_by_label("Value", exact=True).fill("Disk(Full")
    form.get_by_role("button", name="Add rule").click()

    problem = conditions(page).locator("ul.problems li")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("conditions")
    expect(problem).to_contain_text("Disk(Full")
    expect(form.get_by_label("Name", exact=True)).to_have_value("Broken pattern")  # nothing typed is lost
    assert rules_of(api, service) == []

    conditions(page).get_by_label("Value", exact=True).fill("Disk\\(Full")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#rules > li", has_text="Broken pattern")).to_be_visible()
    expect(problem).to_have_count(0)
    tab.assert_clean_console("status of 422")


def test_the_test_panel_shows_the_rule_an_alertmanager_alert_matches_and_the_alert_it_makes(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    service = new_service(api)
    new_rule(api, service, "Other alerts", conditions={"field": "labels.alertname", "op": "equals", "value": "CPU"})
    disks = new_rule(api, service, "Disks", conditions={"field": "labels.alertname", "op": "starts_with", "value": "Disk"},
                     actions={"severity": "warning", "summary": "{{labels.alertname}} on {{labels.instance}}",
                              "details": {"runbook": "https://wiki/{{labels.alertname}}"}, "suppress": True})
    tab = new_tab(admin_person)
    page = open_rules(tab, service)

    page.get_by_label("Format").select_option("alertmanager")
    page.get_by_label("Payload, as the source sends it").fill(json.dumps(alertmanager_notification()))
    page.get_by_role("button", name="Test", exact=True).click()

    result = page.locator("#test-result .test-alert")
    expect(result).to_have_count(1)
    expect(result.locator("dd[data-fact='Service rules']")).to_have_text("Disks")
    expect(result.locator("dd[data-fact='Disposition']")).to_have_text("suppress")
    expect(result.locator("dd[data-fact='Would page']")).to_have_text("no")
    expect(result.locator("dd[data-fact='Summary']")).to_have_text("DiskFull on db-1:9100")
    expect(result.locator("dd[data-fact='Severity']")).to_have_text("warning")
    expect(result.locator("dd[data-fact='Details']")).to_contain_text("https://wiki/DiskFull")
    expect(page.locator(f"#rules > li[data-rule='{disks['id']}']")).to_have_class("rule card matched")
    expect(page.locator("#rules > li.matched")).to_have_count(1)
    assert [rule["matches"]["last_day"] for rule in rules_of(api, service)] == [0, 0]  # a test counts nothing
    tab.assert_clean_console()


def test_a_router_route_made_in_the_form_is_what_the_test_panel_follows(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    databases, fallback = new_service(api), new_service(api)
    router = created(api, "/api/v1/integrations", {"name": unique("edge"), "type": "router", "format": "alertmanager",
                                                   "catch_all": {"route_to": fallback["id"]}})
    tab = new_tab(admin_person)
    page = tab.open(f"/ui/rules?kind=router&integration_id={router['id']}")
    expect(page.locator("#catch-all")).to_contain_text(f"send to {fallback['name']}")
    form = page.locator("#rule-form")

    form.get_by_label("Name", exact=True).fill("Databases")
    conditions(page).get_by_label("Field", exact=True).fill("labels.team")
    conditions(page).get_by_label("Value", exact=True).fill("dba")
    form.get_by_label("Send to the service").select_option(label=databases["name"])
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#rules > li .rule-summary")).to_have_text(f'When labels.team = "dba" → {databases["name"]}')

    page.get_by_label("Payload, as the source sends it").fill(json.dumps(alertmanager_notification(team="dba")))
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result dd[data-fact=Router]")).to_have_text(f"route Databases: sent to {databases['name']}")
    expect(page.locator("#test-result dd[data-fact='Would page']")).to_have_text("yes")

    page.get_by_label("Payload, as the source sends it").fill(json.dumps(alertmanager_notification(team="web")))
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result dd[data-fact=Router]")).to_have_text(
        f"no route matched: the catch-all sent to {fallback['name']}")
    tab.assert_clean_console()


def test_a_viewer_reads_the_rules_and_their_counts_but_changes_nothing(
    new_tab: Callable[..., Tab], viewer: Person, api: httpx.Client,
) -> None:
    service = new_service(api)
    new_rule(api, service, "Noisy job", conditions={"field": "labels.job", "op": "equals", "value": "batch"},
             actions={"drop": True})
    tab = new_tab(viewer)
    page = open_rules(tab, service)

    item = page.locator("#rules > li", has_text="Noisy job")
    expect(item.locator(".rule-summary")).to_have_text('When labels.job = "batch": drop')
    expect(item.locator("[data-count=day]")).to_have_text("0")
    expect(item).not_to_have_attribute("draggable", "true")
    expect(page.locator("#rules button")).to_have_count(0)
    expect(page.locator("#rule-form")).to_have_count(0)
    tab.assert_clean_console()
