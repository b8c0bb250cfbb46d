// A schedule's shifts over a window, drawn as a bar (for the eye) and listed (for everyone,
// screen readers included). Overrides are marked in both.

import { el, formatDay, formatTime } from "/static/ui.js";

const PALETTE_SIZE = 8;
const DAY_MS = 86400000;

/** A <section> with the schedule's name, its bar over [from, to), and its shifts as a list. */
export function scheduleTimeline(name, shifts, from, to) {
  const start = new Date(from).getTime();
  const span = new Date(to).getTime() - start;
  const bar = el("div", { class: "shift-bar", "aria-hidden": "true" },
    ...dayTicks(start, span),
    ...shifts.map((shift) => segment(shift, start, span)));
  const list = shifts.length
    ? el("ol", { class: "shift-list" }, ...shifts.map(shiftItem))
    : el("p", { class: "muted" }, "Nobody is on call in this window.");
  return el("section", { class: "schedule-timeline" }, el("h3", {}, name), bar, list);
}

function segment(shift, start, span) {
  const left = (new Date(shift.start).getTime() - start) / span;
  const width = (new Date(shift.end).getTime() - new Date(shift.start).getTime()) / span;
  const override = shift.source.type === "override";
  const node = el("div", {
    class: `shift person-${paletteIndex(shift.user_id)}${override ? " override" : ""}`,
    title: `${shift.user_name ?? shift.user_id}: ${formatTime(shift.start)} – ${formatTime(shift.end)}`,
  }, el("span", {}, shift.user_name ?? "?"));
  // Positions through the CSSOM: the Content-Security-Policy allows no style attributes.
  node.style.left = `${(left * 100).toFixed(3)}%`;
  node.style.width = `${(width * 100).toFixed(3)}%`;
  return node;
}

function dayTicks(start, span) {
  const ticks = [];
  const first = new Date(start);
  first.setHours(24, 0, 0, 0);
  for (let day = first.getTime(); day < start + span; day += DAY_MS) {
    const date = new Date(day);
    const tick = el("span", { class: "tick" },
      el("span", { class: "long" }, formatDay(date)), el("span", { class: "short" }, String(date.getDate())));
    tick.style.left = `${(((day - start) / span) * 100).toFixed(3)}%`;
    ticks.push(tick);
  }
  return ticks;
}

function shiftItem(shift) {
  const override = shift.source.type === "override";
  return el("li", { class: override ? "override" : "", "data-user": shift.user_id },
    el("strong", {}, shift.user_name ?? shift.user_id), " ",
    el("time", { datetime: shift.start }, formatTime(shift.start)), " – ",
    el("time", { datetime: shift.end }, formatTime(shift.end)),
    override ? el("span", { class: "badge badge-override" }, "override") : ` (${shift.source.name})`);
}

/** The same colour for a person everywhere on the page. */
function paletteIndex(userId) {
  let hash = 0;
  for (const char of userId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % PALETTE_SIZE;
}
