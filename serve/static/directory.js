// Names for the ids the API returns (services, users, escalation policies, schedules),
// loaded once per page.

import { get } from "/static/api.js";

/** {services, users, policies, schedules}: each a Map id -> name. */
export async function directory() {
  const [services, users, policies, schedules] = await Promise.all([
    rows("/api/v1/services", "services"),
    rows("/api/v1/users", "users"),
    rows("/api/v1/escalation-policies", "escalation_policies"),
    rows("/api/v1/schedules", "schedules"),
  ]);
  return {
    services: byId(services), users: byId(users), policies: byId(policies), schedules: byId(schedules),
  };
}

async function rows(path, field) {
  return (await get(path))[field];
}

function byId(rows) {
  return new Map(rows.map((row) => [row.id, row.name]));
}
