// Routing rules: a service's rules, a router's routes and catch-all, or the inhibit rules, in the
// order they are tried, each with what it does and how many alerts it matched. Admins reorder
// them (drag, or the arrow buttons), and create, change and delete them through the form, which
// lists the API's problems next to the part they concern. Everyone can try a sample payload in
// the test panel, which stores nothing.

import { get, patch, post, put, remove, withQuery } from "/static/api.js";
import { conditionEditor, describeCondition } from "/static/conditions.js";
import {
  actionButton, announce, badge, bindForm, el, fill, fillSelect, problemLine, run, startPage,
} from "/static/ui.js";

const OWNER_LABELS = { service: "Service", router: "Router" };

let page = null;
let services = [];
let routers = [];
let chosen = { kind: "service", owner: "" }; // the rule set shown
let shown = []; // its rules, in order
let editing = null; // the rule the form changes, or null when it adds one
let editors = {}; // the form's condition editors by key
const names = new Map(); // rule id → name, for the test panel's answers

run(async () => {
  page = await startPage();
  services = (await get("/api/v1/services")).services;
  routers = (await get(withQuery("/api/v1/integrations", { type: "router" }))).integrations
    .filter((router) => !router.revoked_at);
  chooseFromAddress();
  prepareSetForm();
  if (page.can("admin")) {
    prepareRuleForm();
    prepareDropTarget();
  }
  prepareTestForm();
  await showRules();
});

const serviceName = (id) => services.find((service) => service.id === id)?.name ?? id;
const formatOf = (router) => router.format ?? router.options?.format ?? "generic";
const routerName = (router) => `${router.name || "Router"} (${formatOf(router)})`;

/** The set named by the address (?kind=router&integration_id=…), else the first service's. */
function chooseFromAddress() {
  const query = new URLSearchParams(location.search);
  const kind = query.get("kind");
  if (kind === "inhibit") chosen = { kind, owner: "" };
  else if (kind === "router") chosen = { kind, owner: query.get("integration_id") ?? routers[0]?.id ?? "" };
  else chosen = { kind: "service", owner: query.get("service_id") ?? services[0]?.id ?? "" };
}

function ownerOf(set = chosen) {
  if (set.kind === "service") return { service_id: set.owner };
  if (set.kind === "router") return { integration_id: set.owner };
  return {};
}

function prepareSetForm() {
  const kind = document.getElementById("set-kind");
  const owner = document.getElementById("set-owner");
  const fitOwners = () => {
    const list = chosen.kind === "router" ? routers.map((r) => ({ value: r.id, label: routerName(r) }))
      : services.map((s) => ({ value: s.id, label: s.name }));
    fillSelect(owner, list);
    owner.value = chosen.owner;
    document.getElementById("set-owner-field").hidden = chosen.kind === "inhibit";
    document.getElementById("set-owner-label").textContent = OWNER_LABELS[chosen.kind] ?? "";
  };
  const changed = async () => {
    history.replaceState(null, "", withQuery(location.pathname, { kind: chosen.kind, ...ownerOf() }));
    stopEditing();
    await showRules().catch(showError);
  };
  kind.value = chosen.kind;
  fitOwners();
  kind.addEventListener("change", () => {
    const first = kind.value === "router" ? routers[0]?.id : kind.value === "service" ? services[0]?.id : "";
    chosen = { kind: kind.value, owner: first ?? "" };
    fitOwners();
    changed();
  });
  owner.addEventListener("change", () => {
    chosen = { ...chosen, owner: owner.value };
    changed();
  });
}

function showError(error) {
  document.getElementById("rules-error").textContent = error.message;
}

async function showRules() {
  document.getElementById("rules-error").textContent = "";
  for (const part of document.querySelectorAll("[data-kinds]")) {
    part.hidden = !part.dataset.kinds.split(" ").includes(chosen.kind);
  }
  sendTestsTo(chosen.kind === "inhibit" ? "" : `${chosen.kind}:${chosen.owner}`);
  const noSet = chosen.kind !== "inhibit" && !chosen.owner;
  document.getElementById("rule-editor")?.toggleAttribute("hidden", noSet); // a rule needs its set
  if (noSet) {
    render([]);
    document.getElementById("no-rules").textContent = chosen.kind === "router"
      ? "No router yet: a router integration sends each alert to a service by its content."
      : "No service yet: create one on the Services page.";
    showCatchAll(null);
    return;
  }
  const answer = await get(withQuery("/api/v1/rules", { kind: chosen.kind, ...ownerOf() }));
  document.getElementById("no-rules").textContent = chosen.kind === "inhibit"
    ? "No inhibit rules: no alert is silenced by an open incident."
    : "No rules here yet: alerts go through unchanged.";
  render(answer.rules);
  showCatchAll(chosen.kind === "router" ? answer.catch_all : null);
}

function render(rules) {
  shown = rules;
  for (const rule of rules) names.set(rule.id, rule.name);
  document.getElementById("rules").replaceChildren(...rules.map((rule, index) => ruleItem(rule, index)));
  document.getElementById("no-rules").hidden = rules.length > 0;
}

function ruleItem(rule, index) {
  const admin = page.can("admin");
  const problem = problemLine();
  const matches = rule.matches ?? {};
  const item = el("li", { class: "rule card", "data-rule": rule.id, "data-enabled": String(rule.enabled),
    draggable: admin ? "true" : null },
    admin ? el("span", { class: "drag-handle", "aria-hidden": "true", title: "Drag to reorder" }, "⠿") : null,
    el("div", { class: "rule-main" },
      el("p", { class: "rule-title" }, el("strong", {}, rule.name || "Unnamed rule"),
        rule.enabled ? null : [" ", badge("disabled", "inactive")]),
      el("p", { class: "rule-summary" }, summaryOf(rule)),
      el("p", { class: "muted rule-counts" },
        el("span", { "data-count": "hour" }, String(matches.last_hour ?? 0)), " matched in the last hour · ",
        el("span", { "data-count": "day" }, String(matches.last_day ?? 0)), " in the last day")),
    admin ? el("div", { class: "buttons rule-buttons" },
      moveButton(rule, index, -1, problem), moveButton(rule, index, 1, problem),
      el("button", { type: "button", class: "small", "aria-label": `Edit ${rule.name}`,
        onclick: () => startEditing(rule) }, "Edit"),
      actionButton("Delete", async () => {
        if (!confirm(`Delete the rule ${rule.name}?`)) return;
        await remove(`/api/v1/rules/${rule.id}`);
        if (editing?.id === rule.id) stopEditing();
        await showRules();
        announce(`Rule ${rule.name} deleted.`);
      }, problem, { class: "small danger", "aria-label": `Delete ${rule.name}` })) : null,
    problem);
  if (admin) draggableItem(item);
  return item;
}

/** What a rule does, in one line. */
function summaryOf(rule) {
  const when = describeCondition(rule.conditions);
  if (rule.kind === "router") return `When ${when} → ${serviceName(rule.route_to)}`;
  if (rule.kind === "inhibit") {
    const equal = rule.equal?.length ? ` with the same ${rule.equal.join(", ")}` : "";
    const source = describeCondition(rule.source);
    return `While an incident matches ${source}, suppress ${describeCondition(rule.target)}${equal}`;
  }
  return `When ${when}: ${describeActions(rule.actions ?? {})}${rule.continue ? "; then try the next rules" : ""}`;
}

function describeActions(actions) {
  const parts = ["severity", "urgency", "priority"].filter((key) => actions[key])
    .map((key) => `${key} ${actions[key]}`);
  if (actions.summary) parts.push(`summary “${actions.summary}”`);
  if (actions.dedup_key) parts.push(`dedup key “${actions.dedup_key}”`);
  const details = Object.keys(actions.details ?? {});
  if (details.length) parts.push(`details ${details.join(", ")}`);
  if (actions.tags?.length) parts.push(`tags ${actions.tags.join(", ")}`);
  if (actions.suppress) parts.push("suppress");
  if (actions.drop) parts.push("drop");
  if (actions.pause_minutes) parts.push(`pause ${actions.pause_minutes} min`);
  return parts.length ? parts.join(", ") : "no change";
}

// Reordering: the dragged item moves among the others while it is dragged; dropped, the new
// order is saved; let go anywhere else, the list is shown as it was.

let dragged = null;
let dropped = false;

/** The list takes a drop anywhere on it (between items too). */
function prepareDropTarget() {
  const list = document.getElementById("rules");
  list.addEventListener("dragover", (event) => {
    if (dragged) event.preventDefault();
  });
  list.addEventListener("drop", (event) => {
    if (!dragged) return;
    event.preventDefault();
    dropped = true;
  });
}

function draggableItem(item) {
  item.addEventListener("dragstart", (event) => {
    dragged = item;
    dropped = false;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.rule);
  });
  item.addEventListener("dragover", (event) => {
    if (!dragged || dragged === item) return;
    const { top, height } = item.getBoundingClientRect();
    item.parentElement.insertBefore(dragged, event.clientY > top + height / 2 ? item.nextSibling : item);
  });
  item.addEventListener("dragend", () => {
    item.classList.remove("dragging");
    dragged = null;
    const ids = [...document.getElementById("rules").children].map((node) => node.dataset.rule);
    if (!dropped || ids.join() === shown.map((rule) => rule.id).join()) {
      render(shown);
      return;
    }
    saveOrder(ids).catch((error) => {
      showError(error);
      render(shown);
    });
  });
}

function moveButton(rule, index, step, problem) {
  const to = index + step;
  const direction = step < 0 ? "up" : "down";
  return actionButton(step < 0 ? "↑" : "↓", async () => {
    const ids = shown.map((each) => each.id);
    ids.splice(index, 1);
    ids.splice(to, 0, rule.id);
    await saveOrder(ids);
    // Keyboard users keep their place: focus stays on the moved rule's arrow, or its other one at an end.
    const buttons = [...document.querySelectorAll(`[data-rule="${rule.id}"] button[data-move]`)]
      .filter((button) => !button.disabled);
    (buttons.find((button) => button.dataset.move === direction) ?? buttons[0])?.focus();
  }, problem, { class: "small", "data-move": direction, "aria-label": `Move ${rule.name} ${direction}`,
    disabled: to < 0 || to >= shown.length });
}

async function saveOrder(ids) {
  const answer = await post("/api/v1/rules/order", { kind: chosen.kind, ...ownerOf(), ids });
  render(answer.rules);
  announce("New order saved.");
}

function showCatchAll(catchAll) {
  const box = document.getElementById("catch-all");
  box.hidden = catchAll === null || catchAll === undefined;
  if (box.hidden) return;
  const said = catchAll.route_to ? `send to ${serviceName(catchAll.route_to)}` : "drop the alert";
  fill(box, el("p", {}, el("strong", {}, "When no route matches: "), said),
    page.can("admin") ? catchAllForm(catchAll) : null);
}

function catchAllForm(catchAll) {
  const select = el("select", { id: "catch-all-target", name: "target" });
  fillSelect(select, [{ value: "", label: "Drop the alert" },
    ...services.map((service) => ({ value: service.id, label: `Send to ${service.name}` }))]);
  select.value = catchAll.route_to ?? "";
  const form = el("form", { class: "inline-form" },
    el("div", { class: "field" }, el("label", { for: "catch-all-target" }, "Change the catch-all"), select),
    el("button", { type: "submit" }, "Save catch-all"), problemLine());
  bindForm(form, async ({ target }) => {
    await patch(`/api/v1/integrations/${chosen.owner}`, { catch_all: target ? { route_to: target } : { drop: true } });
    await showRules();
  });
  return form;
}

// The rule form: one form for the three kinds, showing the parts of the chosen one.

function prepareRuleForm() {
  const form = document.getElementById("rule-form");
  editors = {
    conditions: conditionEditor("conditions", "Conditions"),
    source: conditionEditor("source", "Source: the open incident that silences"),
    target: conditionEditor("target", "Target: the alerts it silences"),
  };
  document.getElementById("rule-conditions").append(editors.conditions.element);
  document.getElementById("rule-source").append(editors.source.element);
  document.getElementById("rule-target").append(editors.target.element);
  fillSelect(form.elements.route_to, services.map((service) => ({ value: service.id, label: service.name })));
  document.getElementById("rule-cancel").addEventListener("click", stopEditing);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showProblems([]);
    const button = document.getElementById("rule-submit");
    button.disabled = true;
    try {
      const body = readRule(form);
      const saved = editing ? await put(`/api/v1/rules/${editing.id}`, body)
        : await post("/api/v1/rules", { kind: chosen.kind, ...ownerOf(), ...body });
      stopEditing();
      await showRules();
      announce(`Rule ${saved.name} saved.`);
    } catch (error) {
      showProblems(error.problems?.length ? error.problems : [error.message]);
    } finally {
      button.disabled = false;
    }
  });
}

function readRule(form) {
  const values = form.elements;
  const rule = { name: values.name.value, enabled: values.enabled.checked };
  const condition = (key) => {
    const read = editors[key].read();
    if (read !== undefined) rule[key] = read;
  };
  if (chosen.kind === "inhibit") {
    condition("source");
    condition("target");
    rule.equal = listOf(values.equal.value);
    return rule;
  }
  condition("conditions");
  if (chosen.kind === "router") {
    rule.route_to = values.route_to.value;
    return rule;
  }
  rule.actions = readActions(values);
  rule.continue = values.continue.checked;
  return rule;
}

function readActions(values) {
  const actions = {};
  for (const key of ["severity", "urgency", "priority", "summary", "dedup_key"]) {
    if (values[key].value.trim()) actions[key] = values[key].value;
  }
  const tags = listOf(values.tags.value);
  if (tags.length) actions.tags = tags;
  const details = detailsOf(values.details.value);
  if (Object.keys(details).length) actions.details = details;
  const disposition = values.disposition.value;
  if (disposition === "suppress" || disposition === "drop") actions[disposition] = true;
  if (disposition === "pause") actions.pause_minutes = Number(values.pause_minutes.value);
  return actions;
}

const listOf = (text) => text.split(",").map((item) => item.trim()).filter(Boolean);

/** "name: template" lines as {name: template}; a line without a colon names a detail with no template. */
function detailsOf(text) {
  const details = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    const name = (colon < 0 ? line : line.slice(0, colon)).trim();
    details[name] = colon < 0 ? "" : line.slice(colon + 1).trim();
  }
  return details;
}

/** Each problem under the part of the form its path names ("actions.severity: …"), the rest at the end. */
function showProblems(problems) {
  const form = document.getElementById("rule-form");
  const lists = [...form.querySelectorAll("ul.problems")];
  for (const list of lists) list.replaceChildren();
  for (const problem of problems) {
    const root = problem.replace(/^(body\.|\w*rules\[\d+\]\.)/, "").split(/[.[:\s]/, 1)[0];
    const list = lists.find((each) => each.dataset.for?.split(" ").includes(root) && !each.closest("[hidden]"))
      ?? document.getElementById("rule-problems");
    list.append(el("li", {}, problem));
  }
}

function startEditing(rule) {
  const form = document.getElementById("rule-form");
  stopEditing();
  editing = rule;
  const values = form.elements;
  values.name.value = rule.name ?? "";
  values.enabled.checked = rule.enabled !== false;
  for (const key of ["conditions", "source", "target"]) editors[key].write(rule[key]);
  values.equal.value = (rule.equal ?? []).join(", ");
  if (rule.route_to) values.route_to.value = rule.route_to;
  const actions = rule.actions ?? {};
  for (const key of ["severity", "urgency", "priority", "summary", "dedup_key"]) values[key].value = actions[key] ?? "";
  values.tags.value = (actions.tags ?? []).join(", ");
  values.details.value = Object.entries(actions.details ?? {}).map(([name, text]) => `${name}: ${text}`).join("\n");
  values.disposition.value = actions.suppress ? "suppress" : actions.drop ? "drop"
    : actions.pause_minutes ? "pause" : "page";
  values.pause_minutes.value = actions.pause_minutes || 10;
  values.continue.checked = rule.continue === true;
  document.getElementById("rule-form-title").textContent = `Edit ${rule.name || "the rule"}`;
  document.getElementById("rule-submit").textContent = "Save rule";
  document.getElementById("rule-cancel").hidden = false;
  form.scrollIntoView({ block: "start" });
  values.name.focus();
}

/** Back to adding a rule, with an empty form. */
function stopEditing() {
  const form = document.getElementById("rule-form");
  if (!form) return; // not an admin
  editing = null;
  form.reset();
  for (const editor of Object.values(editors)) editor.write(undefined);
  showProblems([]);
  document.getElementById("rule-form-title").textContent = "Add a rule";
  document.getElementById("rule-submit").textContent = "Add rule";
  document.getElementById("rule-cancel").hidden = true;
}

// The test panel.

function prepareTestForm() {
  const form = document.getElementById("test-form");
  const through = form.elements.through;
  through.replaceChildren(
    el("optgroup", { label: "Routers" },
      ...routers.map((router) => el("option", { value: `router:${router.id}` }, routerName(router)))),
    el("optgroup", { label: "Services" },
      ...services.map((service) => el("option", { value: `service:${service.id}` }, service.name))));
  through.addEventListener("change", () => sendTestsTo(through.value));
  const problem = form.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      let payload;
      try {
        payload = JSON.parse(form.elements.payload.value);
      } catch (error) {
        throw new Error(`The payload is not valid JSON (${error.message})`);
      }
      const [kind, owner] = through.value.split(":");
      const { alerts } = await post("/api/v1/rules/test",
        { format: form.elements.format.value, payload, ...ownerOf({ kind, owner }) });
      await showTestResult(alerts);
    } catch (error) {
      problem.textContent = error.problems?.length ? error.problems.join("; ") : error.message;
    } finally {
      button.disabled = false;
    }
  });
}

/** Tests go to `target` ("router:<id>" or "service:<id>"; the one chosen if empty), in its router's format. */
function sendTestsTo(target) {
  const form = document.getElementById("test-form");
  if (target && [...form.elements.through.options].some((option) => option.value === target)) {
    form.elements.through.value = target;
  }
  const [kind, id] = form.elements.through.value.split(":");
  const router = kind === "router" && routers.find((each) => each.id === id);
  if (router) form.elements.format.value = formatOf(router);
}

async function showTestResult(alerts) {
  const matched = new Set(alerts.flatMap((alert) => [alert.router?.rule, ...alert.service_rules, alert.inhibited_by]));
  matched.delete(null);
  matched.delete(undefined);
  await Promise.all([...matched].filter((id) => !names.has(id)).map((id) => get(`/api/v1/rules/${id}`)
    .then((rule) => names.set(id, rule.name), () => names.set(id, id))));
  for (const item of document.querySelectorAll("#rules > li")) {
    item.classList.toggle("matched", matched.has(item.dataset.rule));
  }
  const result = document.getElementById("test-result");
  result.replaceChildren(...alerts.map((alert, index) => testCard(alert, index, alerts.length)));
  if (!alerts.length) result.append(el("p", { class: "muted" }, "The payload holds no alert."));
}

function testCard(alert, index, count) {
  const nameOf = (id) => names.get(id) || id;
  const after = alert.alert ?? {};
  const disposition = alert.disposition === "pause" ? `pause ${alert.pause_minutes} min` : alert.disposition;
  return el("article", { class: "card test-alert", "data-disposition": alert.disposition },
    count > 1 ? el("h3", {}, `Alert ${index + 1} of ${count}`) : null,
    facts([
      ["Router", routerLine(alert.router, nameOf)],
      ["Service rules", alert.service_rules.length ? alert.service_rules.map(nameOf).join(", ") : "none matched"],
      ["Inhibited by", alert.inhibited_by ? nameOf(alert.inhibited_by) : "nothing"],
      ["Disposition", badge(disposition, alert.disposition)],
      ["Would page", alert.would_page ? "yes" : "no"],
    ]),
    el("h3", {}, "The alert after the rules"),
    facts([
      ["Summary", after.summary ?? "—"], ["Severity", after.severity ?? "—"], ["Urgency", after.urgency ?? "—"],
      ["Priority", after.priority ?? "—"], ["Dedup key", after.dedup_key ?? "—"],
      ["Tags", after.tags?.length ? after.tags.join(", ") : "—"],
      ["Details", Object.keys(after.details ?? {}).length
        ? el("pre", { class: "details" }, JSON.stringify(after.details, null, 2)) : "—"],
    ]));
}

function routerLine(router, nameOf) {
  if (!router) return "no router: sent to the service directly";
  const to = router.service_id ? `sent to ${serviceName(router.service_id)}` : "dropped";
  return router.by_catch_all ? `no route matched: the catch-all ${to}` : `route ${nameOf(router.rule)}: ${to}`;
}

function facts(rows) {
  return el("dl", { class: "facts" },
    ...rows.flatMap(([term, value]) => [el("dt", {}, term), el("dd", { "data-fact": term }, value)]));
}
