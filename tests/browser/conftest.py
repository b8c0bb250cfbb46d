"""Browser tests: the dashboard in headless Debian Chromium, driven by Playwright, against
the run's `tocsin up` (the session-scoped `tocsin` fixture of tests/conftest.py).

Chromium is the Debian package at /usr/bin/chromium, never a downloaded browser. Outside CI
the tests are skipped when it is missing; in CI (.ci/run installs it) they never are.
Every wait is bounded: Playwright's default timeouts are set on each context.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import IN_CI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 10_000
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    role: str
    password: str = PASSWORD


@dataclass
class Tab:
    """A logged-in browser page and the errors its console showed."""

    context: BrowserContext
    page: Page
    console_errors: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def open(self, path: str) -> Page:
        """Go to `path` and wait until its script has shown what it read (body[data-ready])."""
        self.page.goto(path)
        ready = self.page.locator("body[data-ready]")
        ready.wait_for(timeout=WAIT_MS)
        assert ready.get_attribute("data-ready") == "true", self.page.locator("main").inner_text()
        return self.page

    def assert_clean_console(self, *expected: str) -> None:
        """No console errors but those containing one of `expected` (a refusal a test provokes)."""
        unexpected = [error for error in self.console_errors if not any(text in error for text in expected)]
        assert unexpected == [], unexpected


@pytest.fixture(scope="session", autouse=True)
def chromium_path() -> str:
    """Checked before anything starts: without Chromium, no Tocsin is brought up for nothing."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("CI needs Debian's Chromium at /usr/bin/chromium; .ci/run installs it")
        pytest.skip("the browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    return str(CHROMIUM)


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One Chromium for the browser tests, stopped after them: Playwright's sync API keeps an
    event loop running in this thread while it is started, which the tests after these
    (asyncio.run, async tests) could not run beside."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, timeout=60_000)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def api(tocsin: Any, admin_token: str) -> Iterator[httpx.Client]:
    """An admin client of the REST API, for setting things up."""
    with httpx.Client(base_url=tocsin.base_url, headers={"Authorization": f"Bearer {admin_token}"},
                      timeout=30) as client:
        yield client


def created(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def make_person(api: httpx.Client, name: str, role: str) -> Person:
    """A user who can log in, made through the REST API by the admin."""
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:8]}@example.com"
    user = created(api, "/api/v1/users", {"name": name, "email": email, "role": role, "password": PASSWORD})
    return Person(user["id"], name, email, role)


@pytest.fixture(scope="session")
def admin_person(api: httpx.Client) -> Person:
    return make_person(api, "Ada Admin", "admin")


@pytest.fixture(scope="session")
def responder(api: httpx.Client) -> Person:
    return make_person(api, "Rui Responder", "responder")


@pytest.fixture(scope="session")
def viewer(api: httpx.Client) -> Person:
    return make_person(api, "Vera Viewer", "viewer")


def log_in(page: Page, person: Person) -> None:
    """Through the login form, as a person does."""
    page.goto("/ui/login")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/incidents", timeout=WAIT_MS)


@pytest.fixture
def new_tab(browser: Browser, tocsin: Any) -> Iterator[Callable[..., Tab]]:
    """new_tab(person=None, viewport=DESKTOP): a fresh browser context (its own cookies), logged
    in as `person` when given. Closed after the test."""
    tabs: list[Tab] = []

    def open_tab(person: Person | None = None, viewport: dict[str, int] = DESKTOP) -> Tab:
        context = browser.new_context(base_url=tocsin.base_url, viewport=viewport)  # type: ignore[arg-type]
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS * 2)
        tab = Tab(context, context.new_page())
        tab.watch()
        tabs.append(tab)
        if person is not None:
            log_in(tab.page, person)
        return tab

    yield open_tab
    for tab in tabs:
        tab.context.close()


def trigger_alert(base_url: str, key: str, summary: str, dedup_key: str | None = None) -> str:
    """A PagerDuty Events API v2 trigger, as monitoring sends it; the dedup key."""
    from tests.client import trigger

    response = httpx.post(f"{base_url}/v2/enqueue", json=trigger(key, dedup_key, summary), timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["dedup_key"]  # type: ignore[no-any-return]


def incident_id_of(api: httpx.Client, service_id: str, summary: str) -> int:
    listed = api.get("/api/v1/incidents", params={"service_id": service_id, "status": "triggered,acknowledged"})
    [incident] = [i for i in listed.json()["incidents"] if i["summary"] == summary]
    return int(incident["id"])


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True, timeout=WAIT_MS * 2)
    return path
