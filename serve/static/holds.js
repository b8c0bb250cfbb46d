// What holds an incident's paging back because of routing rules: suppressed (pages no one)
// or paused (its first page waits), as badges for the incident list and the incident page.

import { badge, el, formatTime } from "/static/ui.js";

/** Badges for the rules' holds on `incident`; none when paging goes as usual. */
export function holdBadges(incident) {
  const holds = [];
  if (incident.suppressed) holds.push(badge("suppressed"));
  if (incident.paused_until && incident.status === "triggered") {
    holds.push(el("span", { class: "badge badge-paused", title: "Pages then if still triggered" },
      `paused until ${formatTime(incident.paused_until)}`));
  }
  return holds;
}
