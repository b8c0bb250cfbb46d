"""Web Push in Chromium: the users page's "Get pages in this browser" button makes this
browser a person's `webpush` contact method; a page Tocsin sends, once the push service has
it, is shown by the service worker as a notification with Acknowledge and Resolve; its
Acknowledge acknowledges the incident as that person, and what it did replaces the
notification; the same button again (the same push delivered twice) is refused, and says so.

The manifest and /sw.js installing are test_app.py's (the app is installable, the worker is
active for the whole origin); here the same worker takes the pushes (serve/static/sw-push.js).

What is real and what stands in, and why:
- Real: the page's own code (push.js) asking for the permission, reading the VAPID key and
  posting the subscription; Tocsin paging the person, encrypting and signing the push; the
  fake push service (tests/fakes/push_service.py) checking VAPID and decrypting as a browser
  would; the service worker's push and notificationclick handlers, run by Chromium, showing
  the notification, calling the action URL with no cookie and showing Tocsin's answer.
- Stubbed: `PushManager.prototype.subscribe`, by an init script. Chromium cannot subscribe
  here: a new context is incognito, where it refuses ("AbortError: Registration failed -
  permission denied"), and a profile on disk waits for ever for Google's push service (GCM),
  which a test on loopback cannot reach. The stub gives the subscription of a key pair the
  test holds (the fake push service's), so that the fake can decrypt what Tocsin sends, and
  records the options the page subscribed with.
- Handed over: the push itself. The fake push service cannot reach Chromium, so the payload
  it decrypted is delivered to the service worker through the DevTools protocol
  (`ServiceWorker.deliverPushMessage`), as Chromium delivers what its push service sends.
- Dispatched: the notification click. Nothing in the DevTools protocol clicks a notification,
  so a `notificationclick` NotificationEvent for the shown notification and its action is
  dispatched in the worker. Chromium refuses `waitUntil` on an event a script made, so that
  one method is given to the event: it collects the promises the handler hands it, which are
  then awaited, as Chromium keeps a worker alive for them. Chromium also lets a worker open a
  window only during a real click ("InvalidAccessError: Not allowed to open a window"), so
  `clients.openWindow` records the address it is asked to open instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Worker, expect

from tests.browser.conftest import (
    WAIT_MS, Person, Tab, created, incident_id_of, log_in, make_person, trigger_alert,
)
from tests.fakes.push_service import Browser, FakePushService

SUBSCRIBE_STUB = """
(() => {
  const subscription = %s;
  PushManager.prototype.subscribe = async function (options) {
    window.tocsinSubscribedWith = { userVisibleOnly: options.userVisibleOnly,
                                    applicationServerKey: options.applicationServerKey };
    return { endpoint: subscription.endpoint, expirationTime: null, options,
             toJSON: () => subscription, unsubscribe: async () => true };
  };
})();
"""

# A click on one of the notification's buttons, as Chromium dispatches it; `waitUntil` kept.
# Chromium opens a window only during a real click, so the windows opened are recorded instead.
CLICK_ACTION = """async (action) => {
  const [notification] = await self.registration.getNotifications();
  const event = new NotificationEvent("notificationclick", { notification, action });
  const kept = [];
  Object.defineProperty(event, "waitUntil", { value: (promise) => kept.push(promise) });
  const opened = [];
  Object.defineProperty(self.clients, "openWindow", { configurable: true, value: async (url) => {
    opened.push(url);
    return null;
  } });
  try {
    self.dispatchEvent(event);
    const settled = await Promise.allSettled(kept);
    return { opened, outcomes: settled.map((s) => s.status === "fulfilled" ? "done" : String(s.reason)) };
  } finally {
    delete self.clients.openWindow;
  }
}"""

SHOWN = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, requireInteraction: n.requireInteraction,
    actions: n.actions.map((a) => [a.action, a.title]), data: n.data,
  }));
}"""


@pytest.fixture(scope="module")
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


def subscribed_tab(new_tab: Callable[..., Tab], person: Person, browser: Browser) -> Tab:
    """`person` logged in, in a context whose PushManager hands out `browser`'s subscription and
    where the site may show notifications."""
    tab = new_tab()
    tab.context.grant_permissions(["notifications"])
    tab.context.add_init_script(SUBSCRIBE_STUB % json.dumps(browser.json()))
    log_in(tab.page, person)
    return tab


def worker_of(context: BrowserContext, page: Page) -> Worker:
    """The active service worker, /sw.js, once it controls the page."""
    page.wait_for_function("navigator.serviceWorker.controller?.state === 'activated'")
    [worker] = [w for w in context.service_workers if w.url.endswith("/sw.js")]
    return worker


def registration_id(cdp: Any, page: Page, scope: str, versions: dict[str, dict[str, Any]]) -> str:
    """The DevTools id of the service worker registration for `scope`; `versions` is kept up to
    date with the state of each of its workers (by version id) from then on."""
    registrations: dict[str, dict[str, Any]] = {}
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.update({r["scopeURL"]: r for r in event["registrations"]}))
    cdp.on("ServiceWorker.workerVersionUpdated",
           lambda event: versions.update({v["versionId"]: v for v in event["versions"]}))
    cdp.send("ServiceWorker.enable")
    for _ in range(WAIT_MS // 50):  # the registrations come as events after enable
        if scope in registrations and not registrations[scope]["isDeleted"]:
            return str(registrations[scope]["registrationId"])
        page.wait_for_timeout(50)
    raise AssertionError(f"no service worker registration for {scope}: {registrations}")


def pages_by_push(api: httpx.Client, tocsin: Any, person: Person, method_id: str) -> tuple[str, str, int]:
    """A service whose policy pages `person`, who is told at once by `method_id` when it is
    high urgency; it breaks. The summary, the service and the incident."""
    created(api, f"/api/v1/users/{person.id}/notification-rules",
            {"contact_method_id": method_id, "urgency": "high", "delay_minutes": 0})
    policy = created(api, "/api/v1/escalation-policies", {"name": f"push {uuid.uuid4().hex[:4]}", "levels": [
        {"delay_minutes": 30, "targets": [{"type": "user", "id": person.id}]}]})
    service = created(api, "/api/v1/services", {"name": f"checkout-{uuid.uuid4().hex[:6]}",
                                                "escalation_policy_id": policy["id"]})
    key = created(api, f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})["key"]
    summary = f"Checkout 5xx above 2% ({uuid.uuid4().hex[:4]})"
    trigger_alert(tocsin.base_url, key, summary)
    return summary, service["id"], incident_id_of(api, service["id"], summary)


def test_a_browser_subscribed_from_the_page_shows_the_page_and_acknowledges_it_from_the_notification(
    new_tab: Callable[..., Tab], api: httpx.Client, tocsin: Any, push_service: FakePushService,
) -> None:
    paula = make_person(api, "Paula Push", "responder")
    browser = push_service.subscribe()
    tab = subscribed_tab(new_tab, paula, browser)
    page = tab.open("/ui/users")
    card = page.locator(f"details[data-user='{paula.id}']")

    card.get_by_role("button", name="Get pages in this browser").click()

    expect(card.locator("li", has_text=browser.endpoint)).to_contain_text("webpush")
    [method] = [m for m in api.get(f"/api/v1/users/{paula.id}/contact-methods").json()["contact_methods"]
                if m["kind"] == "webpush"]
    assert (method["address"], method["verified"], method["label"]) == (browser.endpoint, True, "Chrome")
    vapid_key = api.get("/api/v1/push/vapid-public-key").json()["public_key"]
    subscribed_with = page.evaluate("window.tocsinSubscribedWith")
    assert subscribed_with == {"userVisibleOnly": True, "applicationServerKey": vapid_key}

    summary, _, incident_id = pages_by_push(api, tocsin, paula, method["id"])
    [push] = push_service.wait_for(browser)
    assert push.vapid_key == vapid_key and push.payload["incident_id"] == incident_id

    worker_of(tab.context, page)  # it controls the page
    cdp = tab.context.new_cdp_session(page)
    versions: dict[str, dict[str, Any]] = {}
    deliver = {"origin": tocsin.base_url, "registrationId": registration_id(cdp, page, f"{tocsin.base_url}/", versions),
               "data": json.dumps(push.payload)}

    [shown] = deliver_until_shown(cdp, page, deliver, versions)
    assert summary in shown["title"] + shown["body"]
    assert shown["tag"] == f"incident-{incident_id}" and shown["requireInteraction"] is True
    assert shown["actions"] == [["acknowledge", "Acknowledge"], ["resolve", "Resolve"]]

    # The worker that showed it: Chromium may have stopped and restarted it since the page loaded.
    clicked = worker_of(tab.context, page).evaluate(CLICK_ACTION, "acknowledge")

    assert clicked == {"outcomes": ["done"], "opened": [push.payload["url"]]}, clicked
    [told] = page.evaluate(SHOWN)  # what the button did replaces the page, on the lock screen too
    assert (told["title"], told["tag"], told["actions"]) == (shown["title"], shown["tag"], [])
    assert told["body"] == f"Incident {incident_id} acknowledged.", told
    incident = api.get(f"/api/v1/incidents/{incident_id}").json()
    assert incident["status"] == "acknowledged"
    assert [e for e in incident["timeline"] if e["kind"] == "acknowledged" and paula.name in e["message"]]

    deliver_until_shown(cdp, page, deliver, versions)  # the same page again: its token is spent
    again = worker_of(tab.context, page).evaluate(CLICK_ACTION, "acknowledge")

    assert again["outcomes"] == ["done"], again
    [refused] = page.evaluate(SHOWN)
    assert refused["body"] == "this action token was used already", refused
    timeline = api.get(f"/api/v1/incidents/{incident_id}").json()["timeline"]
    assert [e["kind"] for e in timeline].count("acknowledged") == 1
    tab.assert_clean_console()


# A push takes milliseconds to show; handed over while its worker starts or stops, Chromium
# may drop it, and nothing says so (deliverPushMessage answers before the event runs, and its
# outcome goes nowhere). So it is handed over again after a while without a notification, as
# a push service redelivers what was not acknowledged. One that arrives twice shows one
# notification: the second replaces the first (the same tag).
DELIVERIES = 4
REDELIVER_AFTER_MS = WAIT_MS // 2


def deliver_until_shown(cdp: Any, page: Page, deliver: dict[str, str],
                        versions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The notifications shown once the push handed over as `deliver` has shown one with buttons."""
    for _ in range(DELIVERIES):
        settled(page, versions, deliver["registrationId"])
        cdp.send("ServiceWorker.deliverPushMessage", deliver)
        shown = wait_for_notification(page, lambda n: bool(n["actions"]), REDELIVER_AFTER_MS)
        if any(n["actions"] for n in shown):
            return shown
    raise AssertionError(f"{DELIVERIES} pushes showed no notification with buttons among {shown}; workers: {versions}")


def settled(page: Page, versions: dict[str, dict[str, Any]], registration: str) -> None:
    """Until the registration's active worker is running or stopped (a push starts it), not on
    its way between the two."""
    for _ in range(WAIT_MS // 50):
        active = [v for v in versions.values() if v["registrationId"] == registration and v["status"] == "activated"]
        if active and all(v["runningStatus"] in ("running", "stopped") for v in active):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the service worker of registration {registration} did not settle: {versions}")


def wait_for_notification(page: Page, match: Callable[[dict[str, Any]], bool],
                          timeout_ms: int = WAIT_MS) -> list[dict[str, Any]]:
    """The notifications shown, once one of them matches or `timeout_ms` has passed."""
    for _ in range(timeout_ms // 50):
        shown: list[dict[str, Any]] = page.evaluate(SHOWN)
        if any(match(n) for n in shown):
            return shown
        page.wait_for_timeout(50)
    return shown
