// On-call health over a period: incidents, how fast they were acknowledged and resolved, who
// was paged and when (at night, at weekends, in their own time zone), and the noisiest alerts
// and rules; each table also as a CSV download with the same period and service.

import { get, withQuery } from "/static/api.js";
import { barChart, columnChart } from "/static/charts.js";
import { el, fill, fillSelect, run, startPage } from "/static/ui.js";

const DAY_MS = 86400000;
const DEFAULT_DAYS = 30;
const BUCKET_LABELS = ["≤1m", "≤5m", "≤15m", "≤30m", "≤1h", "≤4h", "≤24h", ">24h"];

const filters = document.getElementById("report-filters");
const problem = document.getElementById("report-error");

run(async () => {
  await startPage();
  const query = new URLSearchParams(location.search);
  const today = dateInput(new Date());
  filters.elements.to.value = query.get("to") ?? today;
  filters.elements.from.value = query.get("from") ?? dateInput(new Date(Date.now() - (DEFAULT_DAYS - 1) * DAY_MS));
  const { services } = await get("/api/v1/services");
  fillSelect(filters.elements.service_id, services.map((s) => ({ value: s.id, label: s.name })), "All services");
  filters.elements.service_id.value = query.get("service_id") ?? "";
  filters.addEventListener("change", () => {
    history.replaceState(null, "", withQuery(location.pathname, choices()));
    show().catch(() => {});
  });
  await show();
});

/** The form's choices as they go in the page's address. */
function choices() {
  return { from: filters.elements.from.value, to: filters.elements.to.value,
    service_id: filters.elements.service_id.value };
}

/** The API's query: the chosen days from local midnight to the midnight after "to". */
function apiQuery() {
  const { from, to, service_id: serviceId } = choices();
  const start = new Date(`${from}T00:00`);
  const end = new Date(new Date(`${to}T00:00`).getTime() + DAY_MS);
  return { from: start.toISOString(), to: end.toISOString(), service_id: serviceId };
}

async function show() {
  problem.textContent = "";
  document.body.dataset.report = "loading";
  let report;
  try {
    report = await get(withQuery("/api/v1/reports", apiQuery()));
  } catch (error) {
    problem.textContent = `Could not read the report: ${error.message}`;
    document.body.dataset.report = "failed";
    return;
  }
  for (const link of document.querySelectorAll("a[data-table]")) {
    link.href = withQuery(`/api/v1/reports/${link.dataset.table}.csv`, apiQuery());
  }
  showTotals(report.totals);
  showPeople(report.people);
  showServices(report.services);
  showAlerts(report.alerts);
  showRules(report.rules);
  document.body.dataset.report = "shown";
}

function showTotals(totals) {
  const figures = [
    ["Incidents", totals.incidents],
    ["Acknowledged by a person", totals.acknowledged_by_person],
    ["Acknowledged by the source", totals.acknowledged_by_source],
    ["Open", totals.open],
    ["Suppressed", totals.suppressed],
    ["MTTA median / p90", pair(totals.mtta)],
    ["MTTR median / p90", pair(totals.mttr)],
    ["Pages", totals.pages],
    ["At night", totals.night_pages],
    ["At weekends", totals.weekend_pages],
    ["Acknowledged without action", totals.acknowledged_without_action],
  ];
  fill(document.getElementById("totals"), ...figures.map(([name, value]) =>
    el("div", { "data-figure": name }, el("dt", {}, name), el("dd", {}, String(value)))));
  histogram("mtta-chart", totals.mtta, "acknowledged");
  histogram("mttr-chart", totals.mttr, "resolved");
}

function histogram(id, durations, verb) {
  const bars = durations.buckets.map((bucket, index) => ({ label: BUCKET_LABELS[index], value: bucket.count }));
  fill(document.getElementById(id), columnChart(bars,
    `Incidents by how long until they were ${verb}: ${bars.map((b) => `${b.label} ${b.value}`).join(", ")}`));
}

function showPeople(people) {
  const rows = people.map((person) => el("tr", { "data-user": person.user_id },
    el("td", { "data-label": "Person", class: "title" }, person.name || person.user_id),
    el("td", { "data-label": "Time zone" }, person.time_zone),
    number("Pages", person.pages), number("At night", person.night_pages),
    number("At weekends", person.weekend_pages), number("Off hours", person.off_hours_pages),
    number("Incidents", person.incidents)));
  fill(document.querySelector("#people tbody"), ...rows);
  showIfAny("people", people);
  const chart = document.getElementById("people-chart");
  if (!people.length) {
    fill(chart);
    return;
  }
  fill(chart, barChart(
    people.map((p) => ({ label: p.name || p.user_id, values: [p.pages, p.night_pages, p.weekend_pages] })),
    [{ name: "pages", className: "bar" }, { name: "at night", className: "bar-night" },
      { name: "at weekends", className: "bar-weekend" }],
    `Pages per person: ${people.map((p) => `${p.name} ${p.pages}, ${p.night_pages} at night,`
      + ` ${p.weekend_pages} at weekends`).join("; ")}`));
}

function showServices(services) {
  fill(document.querySelector("#services tbody"), ...services.map((service) => el("tr", {},
    el("td", { "data-label": "Service", class: "title" }, service.name || service.service_id),
    number("Incidents", service.incidents),
    el("td", { "data-label": "MTTA median / p90" }, pair(service.mtta)),
    el("td", { "data-label": "MTTR median / p90" }, pair(service.mttr)),
    number("Pages", service.pages), number("Off hours", service.off_hours_pages),
    number("Acknowledged without action", service.acknowledged_without_action))));
}

function showAlerts(alerts) {
  fill(document.querySelector("#alerts tbody"), ...alerts.map((alert) => el("tr", {},
    el("td", { "data-label": "Alert", class: "title" }, el("code", {}, alert.dedup_key), " ",
      el("span", { class: "muted" }, alert.summary)),
    el("td", { "data-label": "Service" }, alert.service_name),
    number("Incidents", alert.incidents), number("Occurrences", alert.occurrences), number("Pages", alert.pages),
    number("Acknowledged without action", alert.acknowledged_without_action))));
  showIfAny("alerts", alerts);
}

function showRules(rules) {
  fill(document.querySelector("#rules tbody"), ...rules.map((rule) => el("tr", {},
    el("td", { "data-label": "Rule", class: "title" }, rule.name || rule.rule_id),
    number("Incidents", rule.incidents), number("Alerts matched", rule.alerts), number("Pages", rule.pages),
    number("Acknowledged without action", rule.acknowledged_without_action))));
  showIfAny("rules", rules);
}

/** The table when it has rows, else the line saying there are none. */
function showIfAny(id, rows) {
  document.getElementById(id).hidden = rows.length === 0;
  document.getElementById(`no-${id}`).hidden = rows.length > 0;
}

function number(label, value) {
  return el("td", { "data-label": label, class: "number" }, String(value));
}

function pair(durations) {
  return durations.count ? `${duration(durations.median_s)} / ${duration(durations.p90_s)}` : "—";
}

/** 45 s, 12 min, 3.5 h, 2.1 d. */
function duration(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** A date as an <input type=date> value, in the browser's zone. */
function dateInput(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}
