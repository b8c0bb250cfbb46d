// Web Push in the service worker (imported by /sw.js with importScripts): a page arrives as a
// notification with Acknowledge and Resolve buttons, which work from the lock screen with no
// session: each button's single-use token is posted to Tocsin, what it did (or why it did
// nothing) replaces the notification, then the incident is opened.
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
  const { notification } = event;
  const { url, actionUrl, tokens } = notification.data || {};
  const token = event.action && tokens ? tokens[event.action] : null;
  notification.close();
  event.waitUntil((async () => {
    if (token && actionUrl) {
      // What the action did, or why not, replaces the page's notification: on a lock screen
      // that is all the person sees, and a refused or lost action must not pass for done.
      const said = await act(`${actionUrl}/${encodeURIComponent(token)}`);
      await self.registration.showNotification(notification.title, {
        body: said, tag: notification.tag, silent: true, data: { url: url || "/" },
      });
    }
    await openPage(url || "/");
  })());
});

/** Post an action token; Tocsin's sentence on what it did, or why it did nothing. */
async function act(address) {
  let response;
  try {
    // The token is the credential: no cookie, so no session and no CSRF token are needed.
    response = await fetch(address, { method: "POST", credentials: "omit" });
  } catch (error) {
    return "Tocsin could not be reached, so this may not be done: open the incident to act on it.";
  }
  const answer = await response.json().catch(() => ({}));
  return answer.message || `Tocsin answered ${response.status}, so this may not be done: open the incident.`;
}

async function openPage(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => w.url === url);
  if (open) return open.focus();
  return self.clients.openWindow ? self.clients.openWindow(url) : null;
}
