// Web Push in the service worker (imported by /sw.js with importScripts): a page arrives as a
// notification with Acknowledge and Resolve buttons, which work from the lock screen with no
// session: each button's single-use token is posted to Tocsin, then the incident is opened.
//
// The push's data (JSON, decrypted by the browser) is what actors/providers/webpush.py sends:
// {notification_id, incident_id, title, body, urgency, url, action_url,
//  actions: {acknowledge: token, resolve: token}}.

const PUSH_ACTIONS = [
  { action: "acknowledge", title: "Acknowledge" },
  { action: "resolve", title: "Resolve" },
];

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { title: "Tocsin", body: event.data ? event.data.text() : "" };
  }
  const tokens = data.actions || {};
  const options = {
    body: data.body || "",
    tag: data.incident_id ? `incident-${data.incident_id}` : undefined,
    renotify: Boolean(data.incident_id),
    requireInteraction: data.urgency === "high",
    data: { url: data.url || "/", actionUrl: data.action_url || null, tokens, incidentId: data.incident_id },
    actions: PUSH_ACTIONS.filter((a) => tokens[a.action]),
  };
  event.waitUntil(self.registration.showNotification(data.title || "Tocsin", options));
});

self.addEventListener("notificationclick", (event) => {
  const { url, actionUrl, tokens } = event.notification.data || {};
  const token = event.action && tokens ? tokens[event.action] : null;
  event.notification.close();
  event.waitUntil((async () => {
    if (token && actionUrl) {
      // The token is the credential: no cookie, so no session and no CSRF token are needed.
      await fetch(`${actionUrl}/${encodeURIComponent(token)}`, { method: "POST", credentials: "omit" })
        .catch(() => null); // offline: opening the incident below still lets the person act
    }
    await openPage(url || "/");
  })());
});

async function openPage(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => w.url === url);
  if (open) return open.focus();
  return self.clients.openWindow ? self.clients.openWindow(url) : null;
}
