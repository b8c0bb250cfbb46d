// Who is on call now (per schedule, and per escalation policy level), the next two weeks of
// each schedule, and overrides: create one by picking a person and a window. A responder
// puts only themselves on call; an admin anyone.

import { get, post, remove } from "/static/api.js";
import { scheduleTimeline } from "/static/shiftbar.js";
import {
  actionButton, bindForm, el, fillSelect, formatTime, isoToLocalInput, localInputToIso, run, startPage,
} from "/static/ui.js";

const DEFAULT_OVERRIDE_HOURS = 8;

let page = null;
let schedules = [];
let users = [];

run(async () => {
  page = await startPage();
  [schedules, users] = await Promise.all([
    get("/api/v1/schedules").then((body) => body.schedules),
    get("/api/v1/users").then((body) => body.users),
  ]);
  if (page.can("responder")) prepareOverrideForm();
  await showAll();
});

async function showAll() {
  const [oncall, policies] = await Promise.all([
    get("/api/v1/oncall").then((body) => body.oncall),
    get("/api/v1/escalation-policies").then((body) => body.escalation_policies),
  ]);
  const nowBySchedule = new Map(oncall.map((entry) => [entry.schedule_id, entry.users]));
  showNowBySchedule(oncall);
  showNowByLevel(policies, nowBySchedule);
  await Promise.all([showTimelines(), showOverrides()]);
}

function names(people) {
  return people.length ? people.map((person) => person.name ?? person.id).join(", ") : "Nobody";
}

function showNowBySchedule(oncall) {
  document.querySelector("#now-schedules tbody").replaceChildren(...oncall.map((entry) =>
    el("tr", { "data-schedule": entry.schedule_id },
      el("th", { scope: "row", "data-label": "Schedule" }, entry.schedule_name),
      el("td", { "data-label": "On call now", class: "oncall-now" }, names(entry.users)))));
}

function showNowByLevel(policies, nowBySchedule) {
  const userNames = new Map(users.map((user) => [user.id, user.name]));
  const scheduleNames = new Map(schedules.map((schedule) => [schedule.id, schedule.name]));
  const target = ({ type, id }) => type === "user"
    ? userNames.get(id) ?? id
    : `${names(nowBySchedule.get(id) ?? [])} (${scheduleNames.get(id) ?? "schedule"})`;
  const rows = policies.flatMap((policy) => policy.levels.map((level, index) =>
    el("tr", {},
      el("th", { scope: "row", "data-label": "Escalation policy" }, policy.name),
      el("td", { "data-label": "Level" }, `${index + 1} (${level.delay_minutes} min)`),
      el("td", { "data-label": "Paged now" }, level.targets.map(target).join("; ")))));
  document.querySelector("#now-levels tbody").replaceChildren(...rows);
}

async function showTimelines() {
  const sections = await Promise.all(schedules.map(async (schedule) => {
    const span = await get(`/api/v1/schedules/${schedule.id}/shifts`);
    return scheduleTimeline(schedule.name, span.shifts, span.from, span.to);
  }));
  document.getElementById("timelines").replaceChildren(...sections);
}

async function showOverrides() {
  const problem = document.getElementById("overrides-error");
  const lists = await Promise.all(schedules.map((schedule) =>
    get(`/api/v1/schedules/${schedule.id}/overrides`).then((body) =>
      body.overrides.map((override) => ({ ...override, schedule_name: schedule.name })))));
  const overrides = lists.flat().sort((a, b) => new Date(a.start) - new Date(b.start));
  const userNames = new Map(users.map((user) => [user.id, user.name]));
  document.querySelector("#overrides tbody").replaceChildren(...overrides.map((override) =>
    el("tr", { "data-id": override.id },
      el("td", { "data-label": "Schedule" }, override.schedule_name),
      el("td", { "data-label": "Person" }, userNames.get(override.user_id) ?? override.user_id),
      el("td", { "data-label": "From" }, formatTime(override.start)),
      el("td", { "data-label": "Until" }, formatTime(override.end)),
      el("td", {}, mayChange(override.user_id) ? actionButton("Delete", async () => {
        await remove(`/api/v1/schedules/${override.schedule_id}/overrides/${override.id}`);
        await showAll();
      }, problem, { class: "small danger", "aria-label": `Delete the override on ${override.schedule_name}` })
        : null))));
  document.getElementById("no-overrides").hidden = overrides.length > 0;
}

/** An admin changes any override; a responder only those putting themselves on call. */
function mayChange(userId) {
  return page.can("admin") || (page.can("responder") && userId === page.user.id);
}

function prepareOverrideForm() {
  const form = document.getElementById("override-form");
  fillSelect(form.elements.schedule_id, schedules.map((s) => ({ value: s.id, label: s.name })), "Choose a schedule");
  const people = users.filter((user) => mayChange(user.id)).map((u) => ({ value: u.id, label: u.name }));
  fillSelect(form.elements.user_id, people, people.length > 1 ? "Choose a person" : null);
  const presetWindow = () => {
    const start = new Date();
    form.elements.start.value = isoToLocalInput(start);
    form.elements.end.value = isoToLocalInput(new Date(start.getTime() + DEFAULT_OVERRIDE_HOURS * 3600000));
  };
  presetWindow();
  form.addEventListener("reset", () => setTimeout(presetWindow));
  bindForm(form, async ({ schedule_id: scheduleId, user_id: userId, start, end }) => {
    if (!scheduleId || !userId) throw new Error("Choose a schedule and a person.");
    if (!start || !end) throw new Error("Give the window's start and end.");
    await post(`/api/v1/schedules/${scheduleId}/overrides`, {
      user_id: userId, start: localInputToIso(start), end: localInputToIso(end),
    });
    await showAll();
  });
}
