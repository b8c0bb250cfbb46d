// Users, their contact methods and notification rules. Admins add and change them.

import { get, patch, post, put, remove } from "/static/api.js";
import { pushButton, pushSupported } from "/static/push.js";
import {
  actionButton, badge, bindForm, copyButton, el, fill, fillSelect, lazyCard, problemLine, run, startPage,
} from "/static/ui.js";

const CONTACT_KINDS = {
  sms: "Text message (+14155550123)",
  voice: "Phone call (+14155550123)",
  email: "E-mail",
  push: "Push (device token)",
  webpush: "This browser (Web Push)",
  slack: "Slack (webhook URL, or channel id C0123ABCD with the bot)",
  webhook: "Webhook (URL)",
  teams: "Microsoft Teams (workflow webhook URL)",
};

let page = null;

run(async () => {
  page = await startPage();
  if (page.can("admin")) prepareUserForm();
  await showUsers();
});

async function showUsers(openId = null) {
  const { users } = await get("/api/v1/users");
  const open = openId ?? page.user.id; // your own card starts open
  document.getElementById("users").replaceChildren(...users.map((user) => userCard(user, user.id === open)));
}

function userCard(user, open) {
  return lazyCard({ "data-user": user.id }, [el("strong", {}, user.name), " ", badge(user.role, "role"),
    el("span", { class: "muted" }, ` · ${user.email} · ${user.time_zone}`)], open, (body) => fillUserBody(body, user));
}

async function fillUserBody(body, user) {
  const base = `/api/v1/users/${user.id}`;
  const [{ contact_methods: methods }, { notification_rules: rules }, notices] = await Promise.all([
    get(`${base}/contact-methods`), get(`${base}/notification-rules`), get(`${base}/shift-notices`),
  ]);
  const admin = page.can("admin");
  // Contact methods and rules are a person's own: a responder changes theirs, an admin anyone's.
  const mayChange = admin || (page.can("responder") && user.id === page.user.id);
  const methodName = (id) => {
    const method = methods.find((m) => m.id === id);
    return method ? `${method.kind} ${method.address}` : id;
  };
  fill(body,
    // The feed's URL is a credential: the API gives it only to its owner and to admins.
    user.calendar_url ? el("p", { class: "copyable" }, el("span", { class: "label" }, "On-call calendar feed "),
      copyButton(user.calendar_url, `calendar feed of ${user.name}`)) : null,
    admin ? roleForm(user) : null,
    el("h3", {}, "Slack"),
    slackLink(user, mayChange),
    el("h3", {}, "Contact methods"),
    methods.length ? el("ul", { class: "plain" }, ...methods.map((method) => removableItem(
      [badge(method.kind, "type"), ` ${method.address} `, method.label ? `(${method.label}) ` : "",
        method.verified ? badge("verified") : badge("unverified")],
      mayChange && (() => remove(`${base}/contact-methods/${method.id}`)), user)))
      : el("p", { class: "muted" }, "None: this person cannot be paged."),
    mayChange ? contactForm(user) : null,
    user.id === page.user.id && page.can("responder") && pushSupported()
      ? pushButton(() => showUsers(user.id)) : null,
    el("h3", {}, "Notification rules"),
    rules.length ? el("ul", { class: "plain" }, ...rules.map((rule) => removableItem(
      [`${rule.urgency} urgency: ${methodName(rule.contact_method_id)} after ${rule.delay_minutes} min`],
      mayChange && (() => remove(`${base}/notification-rules/${rule.id}`)), user)))
      : el("p", { class: "muted" }, "None."),
    mayChange && methods.length ? ruleForm(user, methods) : null,
    el("h3", {}, "Shift notices"),
    el("p", { class: "shift-notices" }, notices.contact_method_id
      ? `Told of each on-call shift at ${methodName(notices.contact_method_id)}: `
        + (notices.lead_minutes ? `${notices.lead_minutes} min before it starts, ` : "")
        + "when it starts and when it ends."
      : "Off: not told when on-call shifts start and end."),
    mayChange && methods.length ? shiftNoticeForm(user, methods, notices) : null,
    admin ? deleteUserButton(user) : null,
  );
}

function removableItem(content, removeIt, user) {
  const problem = problemLine();
  return el("li", {}, ...content, removeIt ? actionButton("Remove", async () => {
    await removeIt();
    await showUsers(user.id);
  }, problem, { class: "small" }) : null, problem);
}

function field(id, label, control) {
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), control);
}

function roleForm(user) {
  const select = el("select", { name: "role" }, ...["viewer", "responder", "admin"].map((role) =>
    el("option", { value: role, selected: role === user.role }, role)));
  const form = el("form", { class: "inline-form" }, field(`role-${user.id}`, "Role", select),
    el("button", { type: "submit" }, "Save role"), problemLine());
  bindForm(form, async ({ role }) => {
    await patch(`/api/v1/users/${user.id}`, { role });
    await showUsers(user.id);
  });
  return form;
}

// Pressing a page's buttons in Slack, or typing /tocsin, acts as the user linked to that Slack user.
function slackLink(user, mayChange) {
  const shown = user.slack_user_id
    ? removableItem([`Acts from Slack as Slack user ${user.slack_user_id} `],
      mayChange && (() => remove(`/api/v1/users/${user.id}/slack`)), user)
    : el("p", { class: "muted" }, "Not linked: pages' buttons in Slack cannot act as this user.");
  if (!mayChange) return el("div", {}, shown);
  const form = el("form", { class: "inline-form" },
    field(`slack-${user.id}`, "Slack member ID (U0123ABCD)",
      el("input", { name: "slack_user_id", required: true, maxlength: 32, pattern: "[UW][A-Z0-9]{2,30}" })),
    el("button", { type: "submit" }, user.slack_user_id ? "Change Slack link" : "Link Slack user"), problemLine());
  bindForm(form, async ({ slack_user_id: slackUserId }) => {
    await put(`/api/v1/users/${user.id}/slack`, { slack_user_id: slackUserId.trim() });
    await showUsers(user.id);
  });
  return el("div", {}, user.slack_user_id ? el("ul", { class: "plain" }, shown) : shown, form);
}

function contactForm(user) {
  // A browser subscribes itself (the "Get pages in this browser" button): it has no address to type.
  const kinds = Object.entries(CONTACT_KINDS).filter(([value]) => value !== "webpush")
    .map(([value, label]) => el("option", { value }, label));
  const form = el("form", { class: "inline-form" },
    field(`kind-${user.id}`, "Kind", el("select", { name: "kind" }, ...kinds)),
    field(`address-${user.id}`, "Address", el("input", { name: "address", required: true, maxlength: 2048 })),
    field(`label-${user.id}`, "Label (optional)", el("input", { name: "label", maxlength: 255 })),
    el("button", { type: "submit" }, "Add contact method"), problemLine());
  bindForm(form, async ({ kind, address, label }) => {
    await post(`/api/v1/users/${user.id}/contact-methods`, { kind, address, label });
    await showUsers(user.id);
  });
  return form;
}

function ruleForm(user, methods) {
  const method = el("select", { name: "contact_method_id" });
  fillSelect(method, methods.map((m) => ({ value: m.id, label: `${m.kind} ${m.address}` })));
  const form = el("form", { class: "inline-form" },
    field(`rule-method-${user.id}`, "Contact method", method),
    field(`rule-urgency-${user.id}`, "Urgency", el("select", { name: "urgency" },
      el("option", { value: "high" }, "high"), el("option", { value: "low" }, "low"))),
    field(`rule-delay-${user.id}`, "Minutes after being paged",
      el("input", { name: "delay_minutes", type: "number", min: 0, max: 1440, value: 0, required: true })),
    el("button", { type: "submit" }, "Add rule"), problemLine());
  bindForm(form, async (values) => {
    await post(`/api/v1/users/${user.id}/notification-rules`, {
      contact_method_id: values.contact_method_id, urgency: values.urgency, delay_minutes: Number(values.delay_minutes),
    });
    await showUsers(user.id);
  });
  return form;
}

// Where and how early a person hears of their shifts; "Off" sends nothing.
function shiftNoticeForm(user, methods, notices) {
  const method = el("select", { name: "contact_method_id" });
  fillSelect(method, methods.map((m) => ({ value: m.id, label: `${m.kind} ${m.address}` })), "Off");
  method.value = notices.contact_method_id ?? "";
  const form = el("form", { class: "inline-form" },
    field(`notice-method-${user.id}`, "Tell me of my shifts at", method),
    field(`notice-lead-${user.id}`, "Minutes ahead (0: only at the start)",
      el("input", { name: "lead_minutes", type: "number", min: 0, max: 1440, value: notices.lead_minutes,
        required: true })),
    el("button", { type: "submit" }, "Save shift notices"), problemLine());
  bindForm(form, async (values) => {
    await put(`/api/v1/users/${user.id}/shift-notices`, {
      contact_method_id: values.contact_method_id || null, lead_minutes: Number(values.lead_minutes),
    });
    await showUsers(user.id);
  });
  return form;
}

function deleteUserButton(user) {
  const problem = problemLine();
  return el("div", { class: "danger-zone" }, actionButton(`Delete ${user.name}`, async () => {
    if (!confirm(`Delete ${user.name} with their contact methods, rules and overrides?`)) return;
    await remove(`/api/v1/users/${user.id}`);
    await showUsers();
  }, problem, { class: "danger" }), problem);
}

function prepareUserForm() {
  const form = document.getElementById("user-form");
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  document.getElementById("time-zones").replaceChildren(...zones.map((zone) => el("option", { value: zone })));
  const preset = () => { form.elements.time_zone.value = "UTC"; };
  preset();
  form.addEventListener("reset", () => setTimeout(preset));
  bindForm(form, async (values) => {
    const body = { name: values.name, email: values.email, role: values.role, time_zone: values.time_zone };
    if (values.password) body.password = values.password;
    const created = await post("/api/v1/users", body);
    await showUsers(created.id);
  });
}
