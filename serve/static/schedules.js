// Schedules: their rotations, the next two weeks of each, the calendar feed, the owner and
// the reachability checks; admins create a schedule with one rotation (more layers can be
// added through the API), set its owner and checks, or delete one.

import { get, post, put, remove } from "/static/api.js";
import { scheduleTimeline } from "/static/shiftbar.js";
import {
  actionButton, bindForm, chosenTeam, copyButton, el, fillSelect, fillTeamPicker, formatTime, isoToLocalInput,
  localInputToIso, problemLine, run, startPage,
} from "/static/ui.js";

let page = null;
let users = [];

run(async () => {
  page = await startPage();
  users = (await get("/api/v1/users")).users;
  if (page.can("team-admin")) await prepareScheduleForm();
  await showSchedules();
});

async function showSchedules() {
  const { schedules } = await get("/api/v1/schedules");
  const cards = await Promise.all(schedules.map(async (schedule) => {
    const [span, { checks }] = await Promise.all([
      get(`/api/v1/schedules/${schedule.id}/shifts`), get(`/api/v1/schedules/${schedule.id}/checks?limit=10`),
    ]);
    return scheduleCard(schedule, span, checks);
  }));
  document.getElementById("schedules").replaceChildren(...cards);
  document.getElementById("no-schedules").hidden = schedules.length > 0;
}

function userName(id) {
  return users.find((user) => user.id === id)?.name ?? id;
}

function scheduleCard(schedule, span, checks) {
  const problem = problemLine();
  return el("article", { class: "card", "data-schedule": schedule.id },
    el("h2", {}, schedule.name),
    el("p", { class: "muted" }, `${schedule.time_zone} · version ${schedule.version}`),
    schedule.description ? el("p", {}, schedule.description) : null,
    el("ul", { class: "layers" }, ...schedule.layers.map((layer) => el("li", {},
      el("strong", {}, layer.name), `: ${layer.rotation.participants.map(userName).join(" → ")}, `
        + `${layer.rotation.shift_length} ${layer.rotation.unit} each, handoff at ${layer.rotation.handoff},`
        + ` from ${formatTime(layer.rotation.start)}`
        + (layer.restriction ? " (only in set windows)" : "")))),
    scheduleTimeline("The next two weeks", span.shifts, span.from, span.to),
    el("p", { class: "handoffs" }, `Owner: ${schedule.owner_id ? userName(schedule.owner_id) : "none"} · `
      + (schedule.reachability_check
        ? `reachability check ${schedule.check_lead_minutes} min before each shift`
        : "no reachability check")),
    checks.length ? checkList(checks) : null,
    page.can("admin") ? handoffForm(schedule) : null,
    schedule.calendar_url ? el("p", { class: "copyable" }, el("span", { class: "label" }, "Calendar feed "),
      copyButton(schedule.calendar_url, `calendar feed of ${schedule.name}`)) : null,
    page.can("admin") ? actionButton("Delete", async () => {
      if (!confirm(`Delete the schedule ${schedule.name}?`)) return;
      await remove(`/api/v1/schedules/${schedule.id}`);
      await showSchedules();
    }, problem, { class: "small danger", "aria-label": `Delete ${schedule.name}` }) : null,
    problem);
}

const CHECK_STATES = {
  waiting: "waiting", acknowledged: "acknowledged", missed: "missed", cancelled: "cancelled (the shift changed)",
};

function checkList(checks) {
  return el("div", { class: "checks" }, el("h3", {}, "Reachability checks"),
    el("ul", { class: "plain" }, ...checks.map((check) => el("li", { "data-check": check.id },
      `${check.user_name}, shift at ${formatTime(check.shift_start)}: ${CHECK_STATES[check.status]}`
        + (check.acknowledged_at ? ` at ${formatTime(check.acknowledged_at)}` : "")
        + (check.told.length ? `; told ${check.told.map(userName).join(", ")}` : "")
        + (check.note ? ` (${check.note})` : "")))));
}

// The owner and the reachability check, saved with the rest of the schedule unchanged.
function handoffForm(schedule) {
  const owner = el("select", { name: "owner_id" });
  fillSelect(owner, users.map((user) => ({ value: user.id, label: user.name })), "Nobody");
  owner.value = schedule.owner_id ?? "";
  const check = el("input", { name: "reachability_check", type: "checkbox", checked: schedule.reachability_check });
  const form = el("form", { class: "inline-form" },
    field(`owner-${schedule.id}`, "Owner", owner),
    field(`check-${schedule.id}`, "Reachability check", check),
    field(`check-lead-${schedule.id}`, "Minutes before the shift",
      el("input", { name: "check_lead_minutes", type: "number", min: 1, max: 1440, required: true,
        value: schedule.check_lead_minutes })),
    el("button", { type: "submit" }, "Save"), problemLine());
  bindForm(form, async (values) => {
    const { name, description, time_zone: timeZone, layers } = schedule;
    await put(`/api/v1/schedules/${schedule.id}`, {
      name, description, time_zone: timeZone, layers,
      owner_id: values.owner_id || null,
      reachability_check: form.elements.reachability_check.checked,
      check_lead_minutes: Number(values.check_lead_minutes),
    });
    await showSchedules();
  });
  return form;
}

function field(id, label, control) {
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), control);
}

async function prepareScheduleForm() {
  const form = document.getElementById("schedule-form");
  await fillTeamPicker(form.elements.team_id, page);
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  document.getElementById("time-zones").replaceChildren(...zones.map((zone) => el("option", { value: zone })));
  const participants = document.getElementById("participants");
  const pick = document.getElementById("participant-pick");
  fillSelect(pick, users.map((user) => ({ value: user.id, label: user.name })));
  document.getElementById("add-participant").addEventListener("click", () => {
    if (pick.value) participants.append(participantItem(pick.value));
  });
  const preset = () => {
    form.elements.time_zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const start = new Date();
    start.setHours(9, 0, 0, 0);
    form.elements.start.value = isoToLocalInput(start);
    participants.replaceChildren();
  };
  preset();
  form.addEventListener("reset", () => setTimeout(preset));
  bindForm(form, async (values) => {
    const chosen = [...participants.children].map((item) => item.dataset.user);
    if (!chosen.length) throw new Error("Add at least one person to the rotation.");
    await post("/api/v1/schedules", {
      name: values.name,
      team_id: chosenTeam(values.team_id),
      description: values.description,
      time_zone: values.time_zone,
      layers: [{
        name: "Rotation",
        rotation: {
          participants: chosen,
          start: localInputToIso(values.start),
          shift_length: Number(values.shift_length),
          unit: values.unit,
          handoff: values.handoff,
        },
      }],
    });
    await showSchedules();
  });
}

function participantItem(userId) {
  const item = el("li", { "data-user": userId }, userName(userId), " ",
    el("button", { type: "button", class: "small", "aria-label": `Remove ${userName(userId)}`,
      onclick: () => item.remove() }, "Remove"));
  return item;
}
