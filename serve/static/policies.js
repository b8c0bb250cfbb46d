// Escalation policies: whom each level pages and how long it waits for an acknowledgement.

import { get, post, remove } from "/static/api.js";
import { actionButton, bindForm, chosenTeam, el, fillTeamPicker, problemLine, run, startPage } from "/static/ui.js";

let page = null;
let users = [];
let schedules = [];

run(async () => {
  page = await startPage();
  [users, schedules] = await Promise.all([
    get("/api/v1/users").then((body) => body.users),
    get("/api/v1/schedules").then((body) => body.schedules),
  ]);
  if (page.can("team-admin")) await preparePolicyForm();
  await showPolicies();
});

async function showPolicies() {
  const { escalation_policies: policies } = await get("/api/v1/escalation-policies");
  document.getElementById("policies").replaceChildren(...policies.map(policyCard));
  document.getElementById("no-policies").hidden = policies.length > 0;
}

function targetName({ type, id }) {
  if (type === "user") return users.find((user) => user.id === id)?.name ?? id;
  return `${schedules.find((schedule) => schedule.id === id)?.name ?? id} (schedule)`;
}

function policyCard(policy) {
  const problem = problemLine();
  const repeats = policy.repeat ? `, then all levels again ${policy.repeat} more time(s)` : "";
  return el("article", { class: "card", "data-policy": policy.id },
    el("h2", {}, policy.name),
    policy.description ? el("p", {}, policy.description) : null,
    el("ol", { class: "levels-view" }, ...policy.levels.map((level) =>
      el("li", {}, `${level.targets.map(targetName).join(", ")}, given ${level.delay_minutes} min to acknowledge`))),
    el("p", { class: "muted" }, `Version ${policy.version}${repeats}.`),
    page.can("admin") ? actionButton("Delete", async () => {
      if (!confirm(`Delete the escalation policy ${policy.name}?`)) return;
      await remove(`/api/v1/escalation-policies/${policy.id}`);
      await showPolicies();
    }, problem, { class: "small danger", "aria-label": `Delete ${policy.name}` }) : null,
    problem);
}

async function preparePolicyForm() {
  const form = document.getElementById("policy-form");
  await fillTeamPicker(form.elements.team_id, page);
  const levels = document.getElementById("levels");
  const addLevel = () => {
    levels.append(levelFields());
    renumber(levels);
  };
  document.getElementById("add-level").addEventListener("click", addLevel);
  form.addEventListener("reset", () => setTimeout(() => {
    levels.replaceChildren();
    addLevel();
  }));
  addLevel();
  bindForm(form, async (values) => {
    await post("/api/v1/escalation-policies", {
      name: values.name,
      team_id: chosenTeam(values.team_id),
      description: values.description,
      repeat: Number(values.repeat || 0),
      levels: [...levels.children].map(readLevel),
    });
    await showPolicies();
  });
}

let levelCount = 0;

function levelFields() {
  const key = ++levelCount;
  const targets = el("select", { id: `targets-${key}`, multiple: true, required: true, size: 4 },
    el("optgroup", { label: "People" },
      ...users.map((user) => el("option", { value: `user:${user.id}` }, user.name))),
    el("optgroup", { label: "Schedules" },
      ...schedules.map((schedule) => el("option", { value: `schedule:${schedule.id}` }, schedule.name))));
  const item = el("li", { class: "level" },
    el("fieldset", {},
      el("legend", {}, "Level"),
      el("div", { class: "field" }, el("label", { for: `delay-${key}` }, "Minutes before the next level"),
        el("input", { id: `delay-${key}`, type: "number", min: 1, max: 1440, value: 15, required: true,
          class: "delay" })),
      el("div", { class: "field" }, el("label", { for: `targets-${key}` }, "Page (choose one or more)"), targets),
      el("button", { type: "button", class: "small", onclick: () => {
        if (item.parentElement.children.length > 1) {
          const list = item.parentElement;
          item.remove();
          renumber(list);
        }
      } }, "Remove this level")));
  return item;
}

function renumber(levels) {
  [...levels.children].forEach((item, index) => {
    item.querySelector("legend").textContent = `Level ${index + 1}`;
  });
}

function readLevel(item) {
  const chosen = [...item.querySelector("select").selectedOptions].map((option) => option.value.split(":"));
  return {
    delay_minutes: Number(item.querySelector("input.delay").value),
    targets: chosen.map(([type, id]) => ({ type, id })),
  };
}
