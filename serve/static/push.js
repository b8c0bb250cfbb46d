// "Get pages in this browser": subscribe this browser to Web Push with Tocsin's VAPID key and
// make the subscription the signed-in person's contact method (POST /api/v1/push/subscriptions).

import { get, post } from "/static/api.js";
import { el, problemLine } from "/static/ui.js";

/** Whether this browser can take pushes at all. */
export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** The button, with the line that says what went wrong; `done` runs once subscribed. */
export function pushButton(done) {
  const problem = problemLine();
  const button = el("button", { type: "button", class: "small", "data-push-subscribe": "" },
    "Get pages in this browser");
  button.addEventListener("click", async () => {
    button.disabled = true;
    problem.textContent = "";
    try {
      await subscribeThisBrowser();
      await done();
    } catch (error) {
      problem.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
  return el("p", {}, button, problem);
}

export async function subscribeThisBrowser() {
  if ((await Notification.requestPermission()) !== "granted") {
    throw new Error("notifications are blocked for this site: allow them in the browser's settings");
  }
  const { public_key: publicKey } = await get("/api/v1/push/vapid-public-key");
  const registration = await workerRegistration();
  const subscription = await registration.pushManager.getSubscription()
    ?? await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: publicKey });
  return post("/api/v1/push/subscriptions", { ...subscription.toJSON(), label: browserName() });
}

async function workerRegistration() {
  const [registration] = await navigator.serviceWorker.getRegistrations();
  if (registration) return registration;
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  return navigator.serviceWorker.ready;
}

function browserName() {
  const agent = navigator.userAgent;
  const name = ["Edg", "Firefox", "Chrome", "Safari"].find((n) => agent.includes(`${n}/`)) ?? "Browser";
  const phone = /Mobile|Android|iPhone/.test(agent) ? " on a phone" : "";
  return `${name === "Edg" ? "Edge" : name}${phone}`;
}
