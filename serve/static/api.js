// The REST API as the logged-in person sees it. The session cookie goes with every request;
// requests that change something also carry the session's CSRF token, which the server
// checks against the cookie's session.

import { forgetSavedAnswers, noteAnswer } from "/static/offline.js";

const ROLES = ["viewer", "responder", "admin"];

/** A refusal or failure from the API, with the message its body gives and, for a 422, each
 * problem of its "errors" list ("conditions.all[1].field: …"). */
export class ApiError extends Error {
  constructor(status, message, problems = []) {
    super(message);
    this.status = status;
    this.problems = problems;
  }
}

let currentSession = null;

/** The session: {user: {id, name, email, role}, csrf_token}. Sends the browser to the login page without one. */
export function session() {
  currentSession ??= request("GET", "/api/v1/session");
  return currentSession;
}

/** Whether `role` may do what `needed` may: viewer < responder < admin. */
export function allows(role, needed) {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** Log in; the session body on success, an ApiError with the server's reason otherwise. */
export async function logIn(email, password) {
  currentSession = null;
  await forgetSavedAnswers();
  return send("POST", "/api/v1/session", { email, password }, {});
}

/** The first admin, through the one-time setup link (its token is the credential: no session yet). */
export function createFirstAdmin(token, name, email, password) {
  return send("POST", "/api/v1/setup", { token, name, email, password }, {});
}

export async function logOut() {
  try {
    await request("DELETE", "/api/v1/session");
  } finally {
    currentSession = null;
    await forgetSavedAnswers();
  }
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const put = (path, body) => request("PUT", path, body);
export const patch = (path, body) => request("PATCH", path, body);
export const remove = (path) => request("DELETE", path);

/** A path with query parameters, leaving out those that are empty. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function request(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = (await session()).csrf_token;
  return send(method, path, body, headers);
}

async function send(method, path, body, headers) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "Tocsin cannot be reached; check the connection and try again.");
  }
  noteAnswer(response);
  if (response.status === 401 && !(method === "POST" && path === "/api/v1/session")) {
    toLogin();
  }
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const problems = Array.isArray(answer?.errors) ? answer.errors.map(String) : [];
    throw new ApiError(response.status, refusal(response, answer), problems);
  }
  return answer;
}

function refusal(response, answer) {
  const message = answer?.message || `${response.status} ${response.statusText}`;
  const retryAfter = response.headers.get("Retry-After");
  return retryAfter ? `${message} (try again in ${retryAfter} s)` : message;
}

/** To the login page, coming back here afterwards. */
export function toLogin() {
  if (location.pathname === "/ui/login") return;
  const next = location.pathname + location.search;
  location.assign(`/ui/login?next=${encodeURIComponent(next)}`);
}
