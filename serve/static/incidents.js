// The incidents list: filtered by status and service, kept current by the live stream.

import { get, withQuery } from "/static/api.js";
import { directory } from "/static/directory.js";
import { holdBadges } from "/static/holds.js";
import { showLiveState, watchIncidents } from "/static/stream.js";
import { announce, badge, el, fillSelect, formatAge, formatTime, run, startPage } from "/static/ui.js";

const PAGE_SIZE = 50;
const OPEN = ["triggered", "acknowledged"];

const filtersForm = document.getElementById("filters");
const body = document.querySelector("#incidents tbody");
const listError = document.getElementById("list-error");
const moreButton = document.getElementById("more");

const shown = new Map(); // incident id -> {incident, row}
const changedDuringReload = new Set(); // ids the stream brought while a reload was on its way
const lookedUp = new Set(); // unknown service ids whose names were read again, once each
let reloading = false;
let names = null;
let cursor = null;

run(async () => {
  await startPage();
  names = await directory();
  showFilters();
  await reload();
  moreButton.addEventListener("click", loadOlder);
  filtersForm.addEventListener("change", changeFilters);
  watchIncidents({ onChange: ({ incident }) => take(incident), onConnect: reload, onState: showLiveState });
  setInterval(refreshAges, 15000);
});

function filters() {
  const query = new URLSearchParams(location.search);
  const statuses = (query.get("status") ?? OPEN.join(",")).split(",").filter(Boolean);
  return { statuses, serviceId: query.get("service_id") ?? "", suppressed: query.get("suppressed") ?? "" };
}

function showFilters() {
  const { statuses, serviceId, suppressed } = filters();
  for (const box of filtersForm.querySelectorAll("input[name=status]")) box.checked = statuses.includes(box.value);
  fillServiceFilter(serviceId);
  filtersForm.elements.suppressed.value = suppressed;
}

function fillServiceFilter(selected) {
  const select = filtersForm.elements.service_id;
  fillSelect(select, [...names.services].map(([value, label]) => ({ value, label })), "All services");
  select.value = selected;
}

async function changeFilters() {
  const data = new FormData(filtersForm);
  const query = withQuery(location.pathname, {
    status: data.getAll("status").join(",") || "none",
    service_id: data.get("service_id"),
    suppressed: data.get("suppressed"),
  });
  history.replaceState(null, "", query);
  await reload();
}

async function reload() {
  listError.textContent = "";
  reloading = true;
  changedDuringReload.clear();
  try {
    const page = await fetchPage(null);
    const fresh = new Set(page.incidents.map((incident) => incident.id));
    for (const id of [...shown.keys()]) if (!fresh.has(id) && !changedDuringReload.has(id)) drop(id);
    for (const incident of page.incidents) take(incident, { quiet: true });
    cursor = page.next_cursor;
  } catch (error) {
    listError.textContent = `Could not load incidents: ${error.message}`;
  } finally {
    reloading = false;
  }
  showCounts();
}

async function loadOlder() {
  try {
    const page = await fetchPage(cursor);
    for (const incident of page.incidents) take(incident, { quiet: true });
    cursor = page.next_cursor;
  } catch (error) {
    listError.textContent = `Could not load older incidents: ${error.message}`;
  }
  showCounts();
}

async function fetchPage(from) {
  const { statuses, serviceId, suppressed } = filters();
  const wanted = statuses.filter((status) => status !== "none");
  if (!wanted.length) return { incidents: [], next_cursor: null };
  return get(withQuery("/api/v1/incidents", {
    status: wanted.join(","), service_id: serviceId, suppressed, cursor: from, limit: PAGE_SIZE,
  }));
}

/** Show `incident` if it passes the filters (replacing an older state of it), else drop it. */
function take(incident, { quiet = false } = {}) {
  if (reloading && !quiet) changedDuringReload.add(incident.id);
  const { statuses, serviceId, suppressed } = filters();
  const wanted = statuses.includes(incident.status) && (!serviceId || incident.service_id === serviceId)
    && (!suppressed || String(Boolean(incident.suppressed)) === suppressed);
  const known = shown.get(incident.id);
  if (known && new Date(known.incident.updated_at) > new Date(incident.updated_at)) return;
  if (!wanted) {
    drop(incident.id);
    showCounts();
    return;
  }
  const row = incidentRow(incident);
  if (known) known.row.replaceWith(row);
  else insertInOrder(incident.id, row);
  shown.set(incident.id, { incident, row });
  if (!known && !quiet) announce(`New incident ${incident.id}: ${incident.summary}`);
  if (!names.services.has(incident.service_id) && !lookedUp.has(incident.service_id)) {
    lookedUp.add(incident.service_id);
    learnNames(incident.id);
  }
  showCounts();
}

/** A service made since the page loaded: read the names again, then show its row with them. */
async function learnNames(id) {
  names = await directory().catch(() => names);
  fillServiceFilter(filtersForm.elements.service_id.value);
  const known = shown.get(id);
  if (known && names.services.has(known.incident.service_id)) {
    const row = incidentRow(known.incident);
    known.row.replaceWith(row);
    shown.set(id, { ...known, row });
  }
}

function drop(id) {
  shown.get(id)?.row.remove();
  shown.delete(id);
}

/** Newest first: before the first row with a smaller id. */
function insertInOrder(id, row) {
  const after = [...body.rows].find((other) => Number(other.dataset.id) < id);
  body.insertBefore(row, after ?? null);
}

function incidentRow(incident) {
  return el("tr", { class: "incident-row", "data-id": incident.id, "data-status": incident.status },
    el("td", { "data-label": "Incident", class: "title" },
      el("a", { href: `/ui/incidents/${incident.id}` }, `#${incident.id} ${incident.summary}`)),
    el("td", { "data-label": "Status" }, badge(incident.status), ...holdBadges(incident)),
    el("td", { "data-label": "Urgency" }, badge(incident.urgency)),
    el("td", { "data-label": "Service" }, names.services.get(incident.service_id) ?? incident.service_id),
    el("td", { "data-label": "Occurrences", class: "number" }, String(incident.occurrences)),
    el("td", { "data-label": "Age" },
      el("time", { datetime: incident.created_at, title: formatTime(incident.created_at), class: "age" },
        formatAge(incident.created_at))),
    el("td", { "data-label": "Assigned to" }, assignee(incident)),
  );
}

function assignee(incident) {
  if (incident.assigned_user_id) return names.users.get(incident.assigned_user_id) ?? incident.assigned_user_id;
  if (!incident.escalation_policy_id) return "—";
  const policy = names.policies.get(incident.escalation_policy_id) ?? "escalation policy";
  return incident.escalation_level ? `${policy} · level ${incident.escalation_level}` : policy;
}

function refreshAges() {
  for (const time of body.querySelectorAll("time.age")) time.textContent = formatAge(time.dateTime);
}

function showCounts() {
  document.getElementById("empty").hidden = shown.size > 0;
  moreButton.hidden = !cursor;
}
