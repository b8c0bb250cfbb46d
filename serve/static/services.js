// Services, each with its integrations (routing keys, and the URL to give each kind of
// source) and heartbeats. Admins create, change and remove them; others read.

import { get, patch, post, remove } from "/static/api.js";
import {
  actionButton, badge, bindForm, chosenTeam, copyButton, el, fill, fillSelect, fillTeamPicker, formatTime, lazyCard,
  problemLine, run, startPage,
} from "/static/ui.js";

const SOURCE_HINTS = {
  pagerduty: "PagerDuty Events API v2: POST events to this URL with routing_key set to the key.",
  opsgenie: "Opsgenie Alert API: point the client at this URL and send the key as the GenieKey.",
  alertmanager: "Prometheus Alertmanager: a webhook_configs entry with this URL.",
  grafana: "Grafana alerting: a webhook contact point with this URL.",
  generic: "Any tool: POST JSON to this URL.",
  email: "E-mail: send alerts to this address.",
};

let page = null;
let policies = [];

run(async () => {
  page = await startPage();
  policies = (await get("/api/v1/escalation-policies")).escalation_policies;
  if (page.can("team-admin")) await prepareServiceForm();
  await showServices();
});

/** The services, with `openId`'s card open (by default the one the address names: #service-<id>). */
async function showServices(openId = location.hash.replace(/^#service-/, "")) {
  const { services } = await get("/api/v1/services");
  const cards = services.map((service) => serviceCard(service, service.id === openId || services.length === 1));
  document.getElementById("services").replaceChildren(...cards);
  document.getElementById("no-services").hidden = services.length > 0;
}

function policyName(id) {
  return policies.find((policy) => policy.id === id)?.name ?? "no escalation policy";
}

function serviceCard(service, open) {
  return lazyCard({ id: `service-${service.id}`, "data-service": service.id },
    [el("strong", {}, service.name), " ", badge(service.urgency),
      el("span", { class: "muted" }, ` · ${policyName(service.escalation_policy_id)}`)],
    open, (body) => fillServiceBody(body, service));
}

async function fillServiceBody(body, service) {
  const admin = page.can("admin");
  fill(body,
    service.description ? el("p", {}, service.description) : null,
    admin ? policyForm(service) : null,
    el("h3", {}, "Integrations"),
    ...(admin ? await integrationsPart(service) : [secretsNote()]),
    admin ? deleteServiceButton(service) : null,
  );
}

/** Integrations and heartbeats carry their keys, so only admins read them. */
function secretsNote() {
  return el("p", { class: "muted" }, "Routing keys and heartbeat URLs are shown to admins only.");
}

async function integrationsPart(service) {
  const [{ integrations }, { heartbeats }] = await Promise.all([
    get(`/api/v1/services/${service.id}/integrations`),
    get(`/api/v1/services/${service.id}/heartbeats`),
  ]);
  const live = integrations.filter((integration) => !integration.revoked_at);
  return [
    live.length ? el("ul", { class: "integrations" }, ...live.map((i) => integrationItem(service, i)))
      : el("p", { class: "muted" }, "No integration yet: add one to receive alerts."),
    integrationForm(service),
    el("h3", {}, "Heartbeats"),
    heartbeats.length ? el("ul", { class: "integrations" }, ...heartbeats.map(heartbeatItem))
      : el("p", { class: "muted" }, "No heartbeat."),
    heartbeatForm(service),
  ];
}

function integrationItem(service, integration) {
  const problem = problemLine();
  return el("li", { class: "integration", "data-type": integration.type },
    el("p", {}, badge(integration.type, "type"), " ", integration.name || ""),
    el("p", { class: "muted" }, SOURCE_HINTS[integration.type] ?? ""),
    el("p", { class: "copyable" }, el("span", { class: "label" }, "URL "),
      el("code", { class: "url" }, integration.url), " ", copyButton(integration.url, `${integration.type} URL`)),
    el("p", { class: "copyable" }, el("span", { class: "label" }, "Key "),
      el("code", { class: "key" }, integration.key), " ", copyButton(integration.key, `${integration.type} key`)),
    actionButton("Revoke", async () => {
      if (!confirm(`Revoke this ${integration.type} integration? Its key will be refused.`)) return;
      await remove(`/api/v1/services/${service.id}/integrations/${integration.id}`);
      await showServices(service.id);
    }, problem, { class: "small danger" }),
    problem);
}

function heartbeatItem(heartbeat) {
  return el("li", { class: "integration" },
    el("p", {}, el("strong", {}, heartbeat.name), " ", badge(heartbeat.state),
      el("span", { class: "muted" }, ` every ${heartbeat.interval_seconds} s (+${heartbeat.grace_seconds} s grace),`
        + ` last ping ${formatTime(heartbeat.last_ping_at)}`)),
    el("p", { class: "copyable" }, el("span", { class: "label" }, "Ping URL "),
      el("code", { class: "url" }, heartbeat.ping_url), " ", copyButton(heartbeat.ping_url, "ping URL")));
}

function policyForm(service) {
  const id = `policy-${service.id}`;
  const select = el("select", { id, name: "escalation_policy_id" });
  fillSelect(select, policies.map((p) => ({ value: p.id, label: p.name })), "No escalation policy");
  select.value = service.escalation_policy_id ?? "";
  const form = el("form", { class: "inline-form" },
    el("div", { class: "field" }, el("label", { for: id }, "Escalation policy"), select),
    el("button", { type: "submit" }, "Save"), problemLine());
  bindForm(form, async ({ escalation_policy_id: policyId }) => {
    await patch(`/api/v1/services/${service.id}`, { escalation_policy_id: policyId || null });
    await showServices(service.id);
  });
  return form;
}

function integrationForm(service) {
  const typeId = `integration-type-${service.id}`;
  const nameId = `integration-name-${service.id}`;
  const type = el("select", { id: typeId, name: "type" },
    ...Object.keys(SOURCE_HINTS).map((kind) => el("option", { value: kind }, kind)));
  const form = el("form", { class: "inline-form" },
    el("div", { class: "field" }, el("label", { for: typeId }, "Kind of source"), type),
    el("div", { class: "field" }, el("label", { for: nameId }, "Name (optional)"),
      el("input", { id: nameId, name: "name", maxlength: 255 })),
    el("button", { type: "submit" }, "Add integration"), problemLine());
  bindForm(form, async (values) => {
    await post(`/api/v1/services/${service.id}/integrations`, { type: values.type, name: values.name });
    await showServices(service.id);
  });
  return form;
}

function heartbeatForm(service) {
  const field = (name, label, attributes) => {
    const id = `heartbeat-${name}-${service.id}`;
    return el("div", { class: "field" }, el("label", { for: id }, label), el("input", { id, name, ...attributes }));
  };
  const form = el("form", { class: "inline-form" },
    field("name", "Heartbeat name", { required: true, maxlength: 255 }),
    field("interval_seconds", "Expect a ping every (seconds)", { type: "number", min: 10, required: true }),
    field("grace_seconds", "Grace (seconds)", { type: "number", min: 0, value: 60 }),
    el("button", { type: "submit" }, "Add heartbeat"), problemLine());
  bindForm(form, async (values) => {
    await post(`/api/v1/services/${service.id}/heartbeats`, {
      name: values.name, interval_seconds: Number(values.interval_seconds),
      grace_seconds: Number(values.grace_seconds || 0),
    });
    await showServices(service.id);
  });
  return form;
}

function deleteServiceButton(service) {
  const problem = problemLine();
  return el("div", { class: "danger-zone" }, actionButton(`Delete ${service.name}`, async () => {
    if (!confirm(`Delete the service ${service.name} and its integrations?`)) return;
    await remove(`/api/v1/services/${service.id}`);
    await showServices();
  }, problem, { class: "danger" }), problem);
}

async function prepareServiceForm() {
  const form = document.getElementById("service-form");
  await fillTeamPicker(form.elements.team_id, page);
  fillSelect(form.elements.escalation_policy_id, policies.map((p) => ({ value: p.id, label: p.name })),
    "No escalation policy");
  bindForm(form, async (values) => {
    const created = await post("/api/v1/services", {
      name: values.name,
      team_id: chosenTeam(values.team_id),
      description: values.description,
      escalation_policy_id: values.escalation_policy_id || null,
      urgency: values.urgency,
      auto_resolve_minutes: values.auto_resolve_minutes ? Number(values.auto_resolve_minutes) : null,
    });
    await showServices(created.id);
  });
}
