// One incident: what it is, its timeline and notifications, and what a responder can do to it.
// Changes arrive on the live stream; the timeline is then read again (at most once a second).

import { get, post } from "/static/api.js";
import { directory } from "/static/directory.js";
import { showLiveState, watchIncidents } from "/static/stream.js";
import { holdBadges } from "/static/holds.js";
import { timelineEntries, timelineItem } from "/static/timeline.js";
import { badge, bindForm, el, fillSelect, formatTime, run, startPage } from "/static/ui.js";

const ATTEMPTS_SHOWN = 25; // notifications whose delivery attempts are read into the timeline
const RELOAD_PAUSE_MS = 1000;
const DELIVERY_REFRESH_MS = 30000;

const incidentId = Number(location.pathname.split("/").pop());
let names = null;
let current = null;
let reloadTimer = null;

run(async () => {
  const page = await startPage();
  names = await directory();
  await reload();
  if (page.can("responder")) wireActions();
  watchIncidents({
    serviceId: current.service_id,
    onChange: ({ incident }) => {
      if (incident.id === incidentId) {
        show(incident);
        reloadSoon();
      }
    },
    onConnect: reloadSoon,
    onState: showLiveState,
  });
  setInterval(() => { if (current.status !== "resolved") reloadSoon(); }, DELIVERY_REFRESH_MS);
});

async function reload() {
  const [incident, { notifications }] = await Promise.all([
    get(`/api/v1/incidents/${incidentId}`),
    get(`/api/v1/incidents/${incidentId}/notifications`),
  ]);
  const attempts = await deliveryAttempts(notifications.slice(-ATTEMPTS_SHOWN));
  show(incident);
  showTimeline(timelineEntries(incident.timeline, notifications, attempts));
  showNotifications(notifications);
  document.getElementById("details").textContent = JSON.stringify(incident.details, null, 2);
}

function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => reload().catch(() => {}), RELOAD_PAUSE_MS);
}

async function deliveryAttempts(notifications) {
  const tried = notifications.filter((notification) => notification.attempts > 0);
  const details = await Promise.all(tried.map((n) => get(`/api/v1/notifications/${n.id}`)));
  return new Map(details.map((detail) => [detail.id, detail.delivery_attempts]));
}

/** The title, facts and buttons for this state of the incident (newer states only). */
function show(incident) {
  if (current && new Date(current.updated_at) > new Date(incident.updated_at)) return;
  current = { ...current, ...incident };
  document.title = `#${incident.id} ${incident.summary} · Tocsin`;
  const title = document.getElementById("incident-title");
  title.replaceChildren(`#${incident.id} ${incident.summary} `, badge(incident.status), ...holdBadges(current));
  const known = facts(current).filter(([, value]) => value !== null && value !== undefined);
  document.getElementById("facts").replaceChildren(...known.flatMap(([term, value]) => [
    el("dt", {}, term), el("dd", { "data-fact": term }, value),
  ]));
  showButtons(current.status);
}

/** [term, value] pairs; a null value (a time that has not come, nobody assigned) is left out. */
function facts(incident) {
  const when = (iso) => (iso ? formatTime(iso) : null);
  const policy = incident.escalation_policy_id
    ? names.policies.get(incident.escalation_policy_id) ?? incident.escalation_policy_id : null;
  return [
    ["Status", badge(incident.status)],
    ["Urgency", badge(incident.urgency)],
    ["Severity", incident.severity],
    ["Service", names.services.get(incident.service_id) ?? incident.service_id],
    ["Source", incident.source],
    ["Occurrences", String(incident.occurrences)],
    ["Opened", when(incident.created_at)],
    ["Last occurrence", when(incident.last_occurrence_at)],
    ["Acknowledged", when(incident.acknowledged_at)],
    ["Resolved", when(incident.resolved_at)],
    ["Assigned to", incident.assigned_user_id
      ? names.users.get(incident.assigned_user_id) ?? incident.assigned_user_id : null],
    ["Escalation policy", policy],
    ["Level paged", incident.escalation_level ? String(incident.escalation_level) : null],
    ["Next escalation", when(incident.next_escalation_at)],
    ["Snoozed until", when(incident.snoozed_until)],
    ["Paused until", incident.status === "triggered" ? when(incident.paused_until) : null],
    ["Suppressed", incident.suppressed ? "yes: routing rules suppressed it, nobody is paged" : null],
    ["Priority", incident.priority],
    ["Tags", incident.tags?.length ? incident.tags.join(", ") : null],
    ["Dedup key", incident.dedup_key],
  ];
}

function showButtons(status) {
  const open = status !== "resolved";
  const enable = (id, on) => { const node = document.getElementById(id); if (node) node.disabled = !on; };
  enable("acknowledge", status === "triggered");
  enable("resolve", open);
  enable("escalate", open);
  for (const id of ["snooze-form", "reassign-form"]) {
    const button = document.querySelector(`#${id} button[type=submit]`);
    if (button) button.disabled = !open;
  }
}

function showTimeline(entries) {
  document.getElementById("timeline").replaceChildren(...entries.map(timelineItem));
}

function showNotifications(notifications) {
  document.querySelector("#notifications tbody").replaceChildren(...notifications.map((n) =>
    el("tr", { "data-id": n.id },
      el("td", { "data-label": "Page", class: "number" }, String(n.page)),
      el("td", { "data-label": "Level", class: "number" }, String(n.level)),
      el("td", { "data-label": "Person" }, n.user_name ?? n.user_id),
      el("td", { "data-label": "Channel" }, n.channel),
      el("td", { "data-label": "Send at" }, formatTime(n.send_at)),
      el("td", { "data-label": "Status" }, badge(n.status)),
      el("td", { "data-label": "Attempts", class: "number" }, String(n.attempts)),
      el("td", { "data-label": "Last error" }, n.last_error ?? "—"),
    )));
  document.getElementById("no-notifications").hidden = notifications.length > 0;
}

function wireActions() {
  const problem = document.getElementById("action-error");
  const act = (action, body) => async () => {
    show(await post(`/api/v1/incidents/${incidentId}/${action}`, body));
    await reload();
  };
  for (const action of ["acknowledge", "resolve", "escalate"]) {
    const button = document.getElementById(action);
    button.addEventListener("click", async () => {
      problem.textContent = "";
      button.disabled = true;
      try {
        await act(action)();
      } catch (error) {
        problem.textContent = error.message;
      }
      showButtons(current.status); // which actions the new state allows
    });
  }
  bindForm(document.getElementById("snooze-form"), async ({ minutes }) => {
    await act("snooze", { minutes: Number(minutes) })();
  });
  fillReassignTargets();
  bindForm(document.getElementById("reassign-form"), async ({ target }) => {
    const [kind, id] = target.split(":");
    await act("reassign", kind === "user" ? { user_id: id } : { escalation_policy_id: id })();
  });
  bindForm(document.getElementById("note-form"), async ({ text }) => {
    await post(`/api/v1/incidents/${incidentId}/notes`, { text });
    await reload();
  });
}

function fillReassignTargets() {
  const select = document.getElementById("reassign-to");
  const group = (label, kind, map) => el("optgroup", { label },
    ...[...map].map(([id, name]) => el("option", { value: `${kind}:${id}` }, name)));
  fillSelect(select, []);
  select.append(group("People", "user", names.users), group("Escalation policies", "policy", names.policies));
}
