// The login form: a session cookie on success, then back to the page that sent us here.

import { logIn } from "/static/api.js";
import { registerWorker } from "/static/offline.js";

registerWorker();

const form = document.getElementById("login-form");
const problem = form.querySelector(".form-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.textContent = "";
  const { email, password } = Object.fromEntries(new FormData(form));
  if (!email || !password) {
    problem.textContent = "Enter your e-mail address and password.";
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await logIn(email, password);
    location.assign(nextPage());
  } catch (error) {
    problem.textContent = error.status === 401 ? "Wrong e-mail address or password." : error.message;
    button.disabled = false;
  }
});

/** Where to go after logging in: a dashboard page only, never another site. */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/ui\/[\w\-/?=&%.,]*$/.test(next) ? next : "/ui/incidents";
}
