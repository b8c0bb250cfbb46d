// The demo phone: each demo person's inbox, read every two seconds, and their answers (a text
// back, a key pressed on a call) sent through the demo's phone to Tocsin's Twilio webhooks.
// New items are added above the others; an item already shown is left as it is (a reply
// being typed stays), but for a call's words, which grow as it is answered.

import { get, post } from "/static/api.js";
import { el, fill, formatTime, problemLine, run, startPage, announce } from "/static/ui.js";

const REFRESH_MS = 2000;
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const KIND_NAMES = { text: "Text", call: "Call", email: "E-mail", push: "Push", reply: "Sent" };

const peopleNode = document.getElementById("people");
const shown = new Map(); // item id -> {node, said}

run(async () => {
  await startPage();
  await refresh();
  setInterval(() => refresh().catch(() => {}), REFRESH_MS);
});

async function refresh() {
  const problem = document.getElementById("phone-error");
  try {
    const { people } = await get("/api/v1/demo-phone");
    people.forEach(showPerson);
    problem.textContent = "";
  } catch (error) {
    problem.textContent = `Could not read the demo phone: ${error.message}`;
    throw error;
  }
}

function showPerson(person) {
  const id = `person-${person.phone.replace(/\D/g, "")}`;
  let card = document.getElementById(id);
  if (!card) {
    card = el("section", { id, class: "card demo-person", "aria-label": person.name },
      el("h2", {}, person.name),
      el("p", { class: "muted" }, `${person.phone} · ${person.email} · ${person.time_zone}`),
      el("ol", { class: "demo-items", reversed: true }));
    peopleNode.append(card);
  }
  const list = card.querySelector(".demo-items");
  // Oldest first, each new one placed on top: the list ends newest first.
  for (const item of [...person.items].reverse()) {
    const known = shown.get(item.id);
    if (known) {
      if (item.kind === "call" && item.said.length !== known.said) showWords(known.node, item);
      continue;
    }
    const node = itemNode(item);
    shown.set(item.id, { node, said: item.said.length });
    list.prepend(node);
  }
}

function itemNode(item) {
  const node = el("li", { class: `demo-item demo-${item.kind}`, "data-kind": item.kind, "data-item": item.id },
    el("p", { class: "demo-head" }, el("strong", {}, KIND_NAMES[item.kind] ?? item.kind), ` ${item.title} · `,
      el("time", { datetime: new Date(item.at * 1000).toISOString() }, formatTime(new Date(item.at * 1000).toISOString()))),
    el(item.kind === "email" ? "pre" : "p", { class: "demo-body" }, item.body));
  if (item.kind === "text") node.append(replyForm(item));
  if (item.kind === "call") {
    node.append(el("p", { class: "demo-said", "aria-live": "polite" }), keypad(item));
    showWords(node, item);
  }
  return node;
}

function replyForm(item) {
  const input = el("input", { name: "body", id: `reply-${item.id}`, autocomplete: "off", required: true,
    maxlength: 1600 });
  const problem = problemLine();
  const form = el("form", { class: "demo-reply" },
    el("label", { for: `reply-${item.id}` }, "Reply"), input,
    el("button", { type: "submit" }, "Send"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await post(`/api/v1/demo-phone/texts/${item.id}/reply`, { body: input.value });
      input.value = "";
      announce("Reply sent");
      await refresh();
    } catch (error) {
      problem.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function keypad(item) {
  const problem = problemLine();
  const pad = el("div", { class: "demo-keypad", role: "group", "aria-label": "Keypad" });
  for (const key of KEYS) {
    const button = el("button", { type: "button", "aria-label": `Press ${key}` }, key);
    button.addEventListener("click", async () => {
      problem.textContent = "";
      pad.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      try {
        await post(`/api/v1/demo-phone/calls/${item.id}/keys`, { digits: key });
        await refresh();
      } catch (error) {
        problem.textContent = error.message;
      } finally {
        pad.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      }
    });
    pad.append(button);
  }
  return el("div", {}, pad, problem);
}

function showWords(node, item) {
  const said = item.said.length ? item.said.join(" ") : "Not answered yet: press a key to pick up and answer.";
  fill(node.querySelector(".demo-said"), said);
  const known = shown.get(item.id);
  if (known) known.said = item.said.length;
}
