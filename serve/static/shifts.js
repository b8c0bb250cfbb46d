// The shifts of the person logged in, on every schedule, from the one they are in now to two
// weeks ahead; read from each schedule's final timeline (overrides merged in).

import { get, withQuery } from "/static/api.js";
import { badge, el, formatTime, run, startPage } from "/static/ui.js";

const DAY_MS = 86400000;
const LOOK_BACK_DAYS = 7; // a shift that began up to a week ago and goes on is shown whole
const LOOK_AHEAD_DAYS = 14;

run(async () => {
  const { user } = await startPage();
  const now = new Date();
  const from = new Date(now.getTime() - LOOK_BACK_DAYS * DAY_MS).toISOString();
  const to = new Date(now.getTime() + LOOK_AHEAD_DAYS * DAY_MS).toISOString();
  const { schedules } = await get("/api/v1/schedules");
  const timelines = await Promise.all(schedules.map(async (schedule) => {
    const span = await get(withQuery(`/api/v1/schedules/${schedule.id}/shifts`, { from, to }));
    return span.shifts.map((shift) => ({ ...shift, schedule_id: schedule.id, schedule_name: schedule.name }));
  }));
  const mine = timelines.flat()
    .filter((shift) => shift.user_id === user.id && new Date(shift.end) > now)
    .sort((a, b) => new Date(a.start) - new Date(b.start));
  document.getElementById("my-shifts").replaceChildren(...mine.map((shift) => shiftCard(shift, now)));
  document.getElementById("no-shifts").hidden = mine.length > 0;
});

function shiftCard(shift, now) {
  const current = new Date(shift.start) <= now;
  const override = shift.source.type === "override";
  return el("li", { class: `card shift-card${current ? " current" : ""}`, "data-schedule": shift.schedule_id },
    el("h2", {}, shift.schedule_name, " ", current ? badge("on call now", "now") : null,
      override ? badge("override") : null),
    el("p", {},
      el("time", { datetime: shift.start }, formatTime(shift.start)), " – ",
      el("time", { datetime: shift.end }, formatTime(shift.end))),
    override ? null : el("p", { class: "muted" }, `Rotation: ${shift.source.name}`));
}
