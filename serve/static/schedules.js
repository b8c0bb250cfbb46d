// Schedules: their rotations, the next two weeks of each, the calendar feed; admins create
// a schedule with one rotation (more layers can be added through the API) or delete one.

import { get, post, remove } from "/static/api.js";
import { scheduleTimeline } from "/static/shiftbar.js";
import {
  actionButton, bindForm, copyButton, el, fillSelect, formatTime, isoToLocalInput, localInputToIso,
  problemLine, run, startPage,
} from "/static/ui.js";

let page = null;
let users = [];

run(async () => {
  page = await startPage();
  users = (await get("/api/v1/users")).users;
  if (page.can("admin")) prepareScheduleForm();
  await showSchedules();
});

async function showSchedules() {
  const { schedules } = await get("/api/v1/schedules");
  const cards = await Promise.all(schedules.map(async (schedule) => {
    const span = await get(`/api/v1/schedules/${schedule.id}/shifts`);
    return scheduleCard(schedule, span);
  }));
  document.getElementById("schedules").replaceChildren(...cards);
  document.getElementById("no-schedules").hidden = schedules.length > 0;
}

function userName(id) {
  return users.find((user) => user.id === id)?.name ?? id;
}

function scheduleCard(schedule, span) {
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
    schedule.calendar_url ? el("p", { class: "copyable" }, el("span", { class: "label" }, "Calendar feed "),
      copyButton(schedule.calendar_url, `calendar feed of ${schedule.name}`)) : null,
    page.can("admin") ? actionButton("Delete", async () => {
      if (!confirm(`Delete the schedule ${schedule.name}?`)) return;
      await remove(`/api/v1/schedules/${schedule.id}`);
      await showSchedules();
    }, problem, { class: "small danger", "aria-label": `Delete ${schedule.name}` }) : null,
    problem);
}

function prepareScheduleForm() {
  const form = document.getElementById("schedule-form");
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
