// What every page shares: building elements, showing times, forms that report the API's
// refusals next to themselves, and the header with the person logged in.
//
// Text from the API is only ever set as text (never as markup), so nothing it contains can
// run in the page.

import { allows, get, logOut, session } from "/static/api.js";
import { registerWorker } from "/static/offline.js";

/** An element: el("a", {href: "/x", class: "y", onclick: f}, "text", child, ...). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  return fill(node, ...children);
}

/** Replace what `node` holds with `children`, leaving out null, undefined and false. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

/**
 * Header, navigation and role of the person logged in; resolves to {user, can(role),
 * adminOf(teamId)}. can("team-admin"): an admin globally or of some team (who may make
 * things in their teams); data-needs="team-admin" keeps a section for them.
 */
export async function startPage() {
  registerWorker();
  wireMenu();
  const { user } = await session();
  document.getElementById("who-name").textContent = user.name;
  document.getElementById("who-role").textContent = user.role;
  document.getElementById("logout").addEventListener("click", async () => {
    await logOut().catch(() => {});
    location.assign("/ui/login");
  });
  const teams = user.teams ?? {};
  const adminOf = (teamId) => allows(user.role, "admin") || teams[teamId] === "admin";
  const can = (role) => (role === "team-admin"
    ? allows(user.role, "admin") || Object.values(teams).includes("admin")
    : allows(user.role, role));
  for (const node of document.querySelectorAll("[data-needs]")) {
    if (!can(node.dataset.needs)) node.remove();
  }
  return { user, can, adminOf };
}

/** On a phone the sections and the person logged in fold behind the header's Menu button. */
function wireMenu() {
  const button = document.getElementById("menu");
  const header = button.closest("header");
  const setOpen = (open) => {
    button.setAttribute("aria-expanded", String(open));
    header.dataset.menu = open ? "open" : "closed";
  };
  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));
  header.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      button.focus();
    }
  });
}

/**
 * Run a page's start, showing what went wrong in its main area if it fails. The body's
 * data-ready attribute then says "true" or "failed" (the browser tests wait for it).
 */
export function run(start) {
  start().then(() => {
    document.body.dataset.ready = "true";
  }, (error) => {
    if (error?.status === 401) return; // on the way to the login page
    const main = document.getElementById("main");
    main.prepend(el("p", { class: "error", role: "alert" }, `Could not load this page: ${error.message}`));
    document.body.dataset.ready = "failed";
  });
}

/**
 * Submit `form` through `submit(values, formData)`: the button is disabled meanwhile, and a
 * refusal is shown in the form's .form-error element. The form is reset after a success.
 */
export function bindForm(form, submit) {
  const problem = form.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = new FormData(form);
      await submit(Object.fromEntries(data), data);
      form.reset();
    } catch (error) {
      problem.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
}

/** A button for an action; while it runs the button is disabled; a refusal goes to `problem`. */
export function actionButton(label, action, problem, attributes = {}) {
  const button = el("button", { type: "button", ...attributes }, label);
  button.addEventListener("click", async () => {
    problem.textContent = "";
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      problem.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A button copying `text` to the clipboard, saying so when done. */
export function copyButton(text, what) {
  const button = el("button", { type: "button", class: "small", "aria-label": `Copy ${what}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
  return button;
}

/** An element with role=alert for a form's or section's refusals. */
export function problemLine() {
  return el("p", { class: "form-error", role: "alert" });
}

export function badge(text, kind = text) {
  return el("span", { class: `badge badge-${kind}` }, text);
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const SHORT_DAY = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

export function formatTime(iso) {
  return iso ? DATE_TIME.format(new Date(iso)) : "—";
}

export function formatDay(date) {
  return SHORT_DAY.format(date);
}

/** "45 s", "12 min", "3 h", "2 d" since `iso`. */
export function formatAge(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** The value of an <input type=datetime-local> (local wall time) as an ISO instant. */
export function localInputToIso(value) {
  return new Date(value).toISOString();
}

/** An instant as an <input type=datetime-local> value, in the browser's zone. */
export function isoToLocalInput(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

/** Say `text` to screen readers through the page's polite live region. */
export function announce(text) {
  document.getElementById("announcer").textContent = text;
}

/** Fill a <select> with options [{value, label}], keeping a first empty option if given. */
export function fillSelect(select, options, emptyLabel = null) {
  select.replaceChildren(
    ...(emptyLabel === null ? [] : [el("option", { value: "" }, emptyLabel)]),
    ...options.map(({ value, label }) => el("option", { value }, label)),
  );
}


/**
 * Fill a team picker (<select name="team_id">) with the teams `page`'s person may make things
 * in: every team and "No team" for a global admin, else the teams they are an admin of.
 */
export async function fillTeamPicker(select, page) {
  const { teams } = await get("/api/v1/teams");
  const mine = teams.filter((team) => page.adminOf(team.id));
  fillSelect(select, mine.map((team) => ({ value: team.id, label: team.name })),
    page.can("admin") ? "No team (global admins)" : null);
}

/** The team picker's value as the API takes it: null for "No team". */
export function chosenTeam(value) {
  return value || null;
}

/**
 * A folding card (<details>) with `summary`, whose body `fillBody(body)` fills the first time
 * it is opened (at once when `open`); a failure is shown in the body.
 */
export function lazyCard(attributes, summary, open, fillBody) {
  const body = el("div", { class: "card-body" });
  const card = el("details", { class: "card", ...attributes, open }, el("summary", {}, ...summary), body);
  let loaded = false;
  const load = () => {
    if (!card.open || loaded) return;
    loaded = true;
    fillBody(body).catch((error) => body.append(el("p", { class: "error" }, error.message)));
  };
  card.addEventListener("toggle", load);
  if (open) queueMicrotask(load);
  return card;
}
