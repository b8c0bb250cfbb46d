// An incident's timeline: its log (occurrences, pages, acknowledgements, escalations,
// notes…) merged with its notifications and each delivery attempt, oldest first.

import { badge, el, formatTime } from "/static/ui.js";

const LOG_KINDS = {
  triggered: "Triggered",
  occurrence: "Occurrence",
  occurrences: "Occurrences",
  acknowledged: "Acknowledged",
  resolved: "Resolved",
  escalated: "Escalated",
  snoozed: "Snoozed",
  reassigned: "Reassigned",
  retriggered: "Triggered again",
  paged: "Paged",
  unpaged: "Not paged",
  suppressed: "Suppressed",
  unsuppressed: "Suppression lifted",
  paused: "Paused",
  unpaused: "Pause ended",
  note: "Note",
};

/** Entries {at, kind, label, actor, message} from the log, the notifications and their attempts. */
export function timelineEntries(log, notifications, attemptsById) {
  const entries = log.map((entry) => ({ ...entry, label: LOG_KINDS[entry.kind] ?? entry.kind }));
  for (const notification of notifications) {
    const who = notification.user_name ?? notification.user_id;
    entries.push({
      at: notification.send_at,
      kind: "notification",
      label: "Notification",
      actor: "tocsin",
      message: `${notification.channel} to ${who} (level ${notification.level}): ${notification.status}`,
    });
    for (const attempt of attemptsById.get(notification.id) ?? []) {
      entries.push({
        at: attempt.at,
        kind: "attempt",
        label: "Delivery attempt",
        actor: attempt.provider,
        message: attemptText(attempt, notification.channel, who),
      });
    }
  }
  return entries.sort((a, b) => new Date(a.at) - new Date(b.at));
}

function attemptText(attempt, channel, who) {
  const outcome = attempt.error ? `${attempt.outcome}: ${attempt.error}` : attempt.outcome;
  const delivered = attempt.delivery_status ? `, ${attempt.delivery_status}` : "";
  return `${channel} to ${who} via ${attempt.provider}: ${outcome}${delivered}`;
}

export function timelineItem(entry) {
  return el("li", { class: `entry entry-${entry.kind}`, "data-kind": entry.kind },
    el("time", { datetime: entry.at }, formatTime(entry.at)),
    el("div", {},
      badge(entry.label, entry.kind),
      entry.actor ? el("span", { class: "actor" }, ` by ${entry.actor}`) : null,
      el("p", { class: "message" }, entry.message),
      entry.rules?.length ? el("p", { class: "rules" }, rulesText(entry)) : null),
  );
}

/** The routing rules that matched the alert of an entry, and what they did to it. */
function rulesText(entry) {
  const matched = `${entry.rules.length === 1 ? "Rule" : "Rules"} ${entry.rules.join(", ")}`;
  return entry.rule_effect ? `${matched}: ${entry.rule_effect}` : matched;
}
