// Delivery as operators see it: each channel's providers with their circuit breakers, and
// the notifications (dead letters included) with their delivery attempts and a retry.

import { get, post, withQuery } from "/static/api.js";
import { actionButton, badge, el, formatTime, problemLine, run, startPage } from "/static/ui.js";

const PAGE_SIZE = 50;
const REFRESH_MS = 15000;

const filtersForm = document.getElementById("notification-filters");
const body = document.querySelector("#notifications tbody");
const moreButton = document.getElementById("more");
let page = null;
let cursor = null;

run(async () => {
  page = await startPage();
  const query = new URLSearchParams(location.search);
  filtersForm.elements.status.value = query.get("status") ?? "";
  filtersForm.elements.channel.value = query.get("channel") ?? "";
  filtersForm.addEventListener("change", () => {
    history.replaceState(null, "", withQuery(location.pathname, filterValues()));
    showNotifications();
  });
  moreButton.addEventListener("click", () => showNotifications(cursor));
  await Promise.all([showChannels(), showNotifications()]);
  setInterval(() => showChannels().catch(() => {}), REFRESH_MS);
});

function filterValues() {
  return { status: filtersForm.elements.status.value, channel: filtersForm.elements.channel.value };
}

async function showChannels() {
  const problem = document.getElementById("channels-error");
  try {
    const { channels } = await get("/api/v1/channels");
    document.getElementById("channels").replaceChildren(...channels.map(channelCard));
    problem.textContent = "";
  } catch (error) {
    problem.textContent = `Could not read the channels: ${error.message}`;
  }
}

function channelCard(channel) {
  const counts = Object.entries(channel.notifications ?? {});
  return el("article", { class: "card channel", "data-channel": channel.channel },
    el("h3", {}, channel.channel, " ", badge(channel.running ? "running" : "stopped")),
    channel.note ? el("p", { class: "muted" }, channel.note) : null,
    channel.providers.length ? el("ul", { class: "plain" }, ...channel.providers.map(providerItem)) : null,
    counts.length ? el("p", { class: "counts" }, counts.map(([status, count]) => `${status} ${count}`).join(" · "))
      : el("p", { class: "muted" }, "Nothing waiting."));
}

/** A provider with its circuit breaker: closed (sending), open (resting) or half_open (probing). */
function providerItem(provider) {
  const probe = provider.probe_in_s === null || provider.probe_in_s === undefined
    ? "" : `, tried again in ${provider.probe_in_s} s`;
  return el("li", { "data-provider": provider.name },
    el("strong", {}, provider.name), " circuit ", badge(provider.state, `breaker-${provider.state}`),
    el("span", { class: "muted" },
      `, ${provider.failures_in_window} of ${provider.calls_in_window} recent sends failed${probe}`));
}

async function showNotifications(from = null) {
  const problem = document.getElementById("notifications-error");
  problem.textContent = "";
  try {
    const answer = await get(withQuery("/api/v1/notifications", { ...filterValues(), cursor: from, limit: PAGE_SIZE }));
    const rows = answer.notifications.map(notificationRows);
    if (from) body.append(...rows.flat());
    else body.replaceChildren(...rows.flat());
    cursor = answer.next_cursor;
  } catch (error) {
    problem.textContent = `Could not read the notifications: ${error.message}`;
  }
  moreButton.hidden = !cursor;
  document.getElementById("no-notifications").hidden = body.rows.length > 0;
}

/** The notification's row, and a row for its delivery attempts once asked for. */
function notificationRows(notification) {
  const problem = problemLine();
  const attempts = el("tr", { class: "attempts", hidden: true }, el("td", { colspan: 9 }));
  const row = el("tr", { "data-id": notification.id, "data-status": notification.status },
    el("td", { "data-label": "#", class: "number" }, String(notification.id)),
    el("td", { "data-label": "Incident" }, notification.incident_id
      ? el("a", { href: `/ui/incidents/${notification.incident_id}` }, `#${notification.incident_id}`) : "—"),
    el("td", { "data-label": "Person" }, notification.user_name ?? notification.user_id ?? "—"),
    el("td", { "data-label": "Channel" }, notification.channel),
    el("td", { "data-label": "Status" }, badge(notification.status)),
    el("td", { "data-label": "Attempts", class: "number" }, String(notification.attempts)),
    el("td", { "data-label": "Send at" }, formatTime(notification.send_at)),
    el("td", { "data-label": "Last error" }, notification.last_error ?? "—"),
    el("td", {},
      el("div", { class: "buttons" },
        actionButton("Attempts", () => toggleAttempts(notification.id, attempts), problem,
          { class: "small", "aria-label": `Delivery attempts of notification ${notification.id}` }),
        notification.status === "dead" && page.can("admin") ? actionButton("Retry", async () => {
          const retried = await post(`/api/v1/notifications/${notification.id}/retry`);
          const [fresh, freshAttempts] = notificationRows(retried);
          row.replaceWith(fresh);
          attempts.replaceWith(freshAttempts);
        }, problem, { class: "small primary", "aria-label": `Retry notification ${notification.id}` }) : null),
      problem));
  return [row, attempts];
}

async function toggleAttempts(id, row) {
  if (!row.hidden) {
    row.hidden = true;
    return;
  }
  const { delivery_attempts: attempts } = await get(`/api/v1/notifications/${id}`);
  const list = attempts.length
    ? el("ol", { class: "plain" }, ...attempts.map((attempt) => el("li", {},
      `${formatTime(attempt.at)} via ${attempt.provider}: ${attempt.outcome}`,
      attempt.error ? ` (${attempt.error})` : "",
      attempt.delivery_status ? `, ${attempt.delivery_status}` : "",
      attempt.latency_ms !== null && attempt.latency_ms !== undefined ? `, ${attempt.latency_ms} ms` : "")))
    : el("p", { class: "muted" }, "No attempt yet.");
  row.cells[0].replaceChildren(list);
  row.hidden = false;
}
