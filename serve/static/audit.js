// The audit log: entries newest first, narrowed by the filters (kept in the page's address),
// older ones a page at a time, and the same choice exported as JSON lines.

import { get, withQuery } from "/static/api.js";
import { el, fill, fillSelect, formatTime, localInputToIso, run, startPage } from "/static/ui.js";

const PAGE = 50;
const filters = document.getElementById("audit-filters");
const problem = document.getElementById("audit-error");
const rows = document.querySelector("#audit tbody");
const more = document.getElementById("more-entries");
let cursor = null;

run(async () => {
  await startPage();
  const { teams } = await get("/api/v1/teams");
  fillSelect(filters.elements.team, teams.map((team) => ({ value: team.id, label: team.name })), "Any team");
  const query = new URLSearchParams(location.search);
  for (const name of ["actor", "object_type", "object_id", "team", "since", "until"]) {
    if (query.has(name)) filters.elements[name].value = query.get(name);
  }
  filters.addEventListener("change", () => {
    history.replaceState(null, "", withQuery(location.pathname, choices()));
    show(false).catch(() => {});
  });
  more.addEventListener("click", () => show(true).catch(() => {}));
  await show(false);
});

/** The form's choices as they go in the page's address (times as typed, in local time). */
function choices() {
  const values = Object.fromEntries(new FormData(filters));
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== ""));
}

/** The API's query: the same choices, times as instants. */
function apiQuery() {
  const query = choices();
  for (const name of ["since", "until"]) {
    if (query[name]) query[name] = localInputToIso(query[name]);
  }
  return query;
}

async function show(older) {
  problem.textContent = "";
  document.body.dataset.audit = "loading";
  const query = { ...apiQuery(), limit: PAGE, ...(older && cursor ? { cursor } : {}) };
  document.getElementById("audit-export").href = withQuery("/api/v1/audit", { ...apiQuery(), format: "jsonl" });
  let page;
  try {
    page = await get(withQuery("/api/v1/audit", query));
  } catch (error) {
    problem.textContent = error.status === 403 ? error.message : `Could not read the audit log: ${error.message}`;
    document.body.dataset.audit = "failed";
    return;
  }
  const shown = page.entries.map(entryRow);
  if (older) rows.append(...shown);
  else fill(rows, ...shown);
  cursor = page.next_cursor;
  more.hidden = cursor === null;
  document.getElementById("no-entries").hidden = rows.children.length > 0;
  document.body.dataset.audit = "shown";
}

function entryRow(entry) {
  return el("tr", { "data-entry": entry.id },
    el("td", { "data-label": "When" }, formatTime(entry.at)),
    el("td", { "data-label": "Who", class: "title" }, entry.actor_name, el("span", { class: "muted" }, ` (${entry.via})`)),
    el("td", { "data-label": "From" }, entry.client_address ?? "—"),
    el("td", { "data-label": "Action" }, entry.action),
    el("td", { "data-label": "Object" }, `${entry.object_type} `,
      el("a", { href: withQuery(location.pathname, { object_type: entry.object_type, object_id: entry.object_id }) },
        entry.object_name || entry.object_id || "—")),
    el("td", { "data-label": "Before and after" }, changes(entry)));
}

/** What changed, field by field; the whole objects fold out below. */
function changes(entry) {
  const before = entry.before ?? {};
  const after = entry.after ?? {};
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]));
  const summary = entry.before === null ? "made" : entry.after === null ? "gone" : names.join(", ") || "unchanged";
  return el("details", { class: "audit-change" }, el("summary", {}, summary),
    el("pre", { "data-side": "before" }, JSON.stringify(entry.before, null, 2)),
    el("pre", { "data-side": "after" }, JSON.stringify(entry.after, null, 2)));
}
