// The first admin, from the one-time setup link: created with the link's token, then logged in.

import { createFirstAdmin, logIn } from "/static/api.js";

const form = document.getElementById("setup-form");
const problem = form.querySelector(".form-error");
const token = new URLSearchParams(location.search).get("token") || "";

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.textContent = "";
  const { name, email, password, again } = Object.fromEntries(new FormData(form));
  if (!name || !email || !password) {
    problem.textContent = "Enter a name, an e-mail address and a password.";
    return;
  }
  if (password.length < 8) {
    problem.textContent = "A password needs at least 8 characters.";
    return;
  }
  if (password !== again) {
    problem.textContent = "The two passwords differ.";
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await createFirstAdmin(token, name, email, password);
    await logIn(email, password);
    location.assign("/ui/incidents");
  } catch (error) {
    const details = error.problems?.length ? error.problems.join("; ") : error.message;
    problem.textContent = details;
    button.disabled = false;
  }
});
