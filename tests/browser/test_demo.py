"""`tocsin demo` as someone trying Tocsin meets it: started on a fresh data dir, logged in to
as the admin it prints, incidents arriving live from its alert generator, and one of them
acknowledged by replying to its text on the demo phone — a reply that reaches Tocsin through
its Twilio webhook, signed as Twilio signs. (tests/e2e/test_demo_phone.py:
no other Tocsin has a demo phone.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DESKTOP, WAIT_MS, Person, Tab, log_in
from tests.conftest import free_port
from tests.server import TocsinProcess, own_environment

pytestmark = pytest.mark.timeout(600)

ARRIVAL_MS = 60_000  # alerts come about every two seconds at --rate 30; paging takes a few more
SMS_TO_PAGE = re.compile(r"Tocsin #(?P<incident>\d+) .* Reply (?P<code>\d+)a ack")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TocsinProcess]:
    data_dir: Path = tmp_path_factory.mktemp("demo") / "data"
    server = TocsinProcess(port=free_port(), data_dir=data_dir, env=own_environment(), inherit_env=False,
                           command="demo", extra_args=("--rate", "30")).start(timeout_s=300)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()


def printed_admin(demo: TocsinProcess) -> Person:
    [(email, password)] = re.findall(r"^  demo admin +(\S+@\S+)  password (\S+)$", demo.log(), re.MULTILINE)
    return Person(id="", name="admin", email=email, role="admin", password=password)


def test_the_printed_admin_sees_incidents_arrive_and_acknowledges_one_by_text_from_the_demo_phone(
    demo: TocsinProcess, browser: Browser,
) -> None:
    context = browser.new_context(base_url=demo.base_url, viewport=DESKTOP)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    tab = Tab(context, context.new_page())
    tab.watch()
    try:
        log_in(tab.page, printed_admin(demo))
        incidents = tab.open("/ui/incidents")
        expect(incidents.locator("#live")).to_have_attribute("data-state", "live")
        newest = max([int(row) for row in incidents.locator("tr.incident-row").evaluate_all(
            "rows => rows.map(row => row.dataset.id)")], default=0)
        incidents.evaluate("window.notReloaded = true")
        expect(incidents.locator(f'tr.incident-row[data-id="{newest + 1}"]')).to_be_visible(timeout=ARRIVAL_MS)
        assert incidents.evaluate("window.notReloaded === true"), "the incident arrived by a reload"

        phone = tab.open("/ui/demo-phone")
        page_text = phone.locator("li[data-kind=text]", has_text=re.compile(r"Reply \d+a ack")).first
        expect(page_text).to_be_visible(timeout=ARRIVAL_MS)
        paged = SMS_TO_PAGE.search(page_text.locator(".demo-body").inner_text())
        assert paged is not None, page_text.inner_text()
        incident = paged["incident"]
        page_text.get_by_label("Reply").fill(f"{paged['code']}a")
        page_text.get_by_role("button", name="Send").click()

        answer = phone.locator("li[data-kind=text]", has_text=f"Incident {incident} acknowledged")
        expect(answer).to_be_visible()
        expect(phone.locator("li[data-kind=reply]", has_text=f"{paged['code']}a")).to_be_visible()

        page = tab.open(f"/ui/incidents/{incident}")
        expect(page.locator("dd[data-fact=Status]")).to_have_text("acknowledged")
        tab.assert_clean_console()
    finally:
        context.close()
    token = (demo.data_dir / "admin-token").read_text().strip()
    read = httpx.get(f"{demo.base_url}/api/v1/incidents/{incident}", headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200, read.text
    acknowledged = [entry for entry in read.json()["timeline"] if entry["kind"] == "acknowledged"]
    assert [entry["actor"] for entry in acknowledged][:1] == [f"sms:{_texted(demo, incident)}"], read.json()["timeline"]


def _texted(demo: TocsinProcess, incident: str) -> str:
    """Who was texted about the incident: the person whose reply acknowledged it."""
    token = (demo.data_dir / "admin-token").read_text().strip()
    listed = httpx.get(f"{demo.base_url}/api/v1/notifications", params={"channel": "sms", "limit": "200"},
                       headers={"Authorization": f"Bearer {token}"}).json()["notifications"]
    return str(next(n["user_name"] for n in listed if str(n["incident_id"]) == incident))

