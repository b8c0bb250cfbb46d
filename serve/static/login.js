// The login form: a session cookie on success, then back to the page that sent us here; and,
// when single sign-on is configured, the button that signs in through the identity provider.

import { logIn } from "/static/api.js";
import { forgetSavedAnswers, registerWorker } from "/static/offline.js";

registerWorker();

const form = document.getElementById("login-form");
const problem = form.querySelector(".form-error");

showSingleSignOn();

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

/** "Sign in with SSO" when the server has an identity provider, and whether passwords are for
 * break-glass accounts only. Without an answer, the password form alone is shown. */
async function showSingleSignOn() {
  const answer = await fetch("/api/v1/sso", { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .catch(() => null);
  if (!answer?.enabled) return;
  const link = document.getElementById("sso-login");
  link.href = `${answer.login_url}?next=${encodeURIComponent(nextPage())}`;
  document.getElementById("passwords-note").hidden = answer.local_passwords !== "break-glass";
  document.getElementById("sso").hidden = false;
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    await forgetSavedAnswers(); // what the previous person read is not kept for the next
    location.assign(link.href);
  });
}

/** Where to go after logging in: a dashboard page only, never another site. */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/ui\/[\w\-/?=&%.,]*$/.test(next) ? next : "/ui/incidents";
}
