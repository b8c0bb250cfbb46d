// The installable app's side in the pages: registering the service worker (/sw.js, scope "/"),
// saying when a page shows answers the worker kept because the network is gone, and
// forgetting those answers when someone logs in or out.

const SAVED_AT = "X-Tocsin-Saved-At"; // set by /sw.js on the answers it kept
const ANSWER_CACHES = "tocsin-api-"; // the prefix of the worker's caches of answers
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

let oldestShown = null; // the oldest kept answer this page shows, while offline
let lastFresh = null; // when the network last answered

/** Register the service worker, once per page; a browser without them just stays online-only. */
export function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => {
    console.warn(`The offline copy is unavailable: ${error.message}`);
  });
}

/** Look at an API answer: one the worker kept means we are offline; a fresh one, online. */
export function noteAnswer(response) {
  const savedAt = response.headers.get(SAVED_AT);
  if (!savedAt) {
    lastFresh = new Date();
    showOffline(null);
    return;
  }
  const at = new Date(savedAt);
  if (!oldestShown || at < oldestShown) showOffline(at);
}

/** Drop every kept answer: the next person on this browser must not see them. */
export async function forgetSavedAnswers() {
  if (!("caches" in self)) return;
  const names = await caches.keys();
  await Promise.all(names.filter((name) => name.startsWith(ANSWER_CACHES)).map((name) => caches.delete(name)));
}

/** The banner under the header: shown with the time of what the page shows, or hidden (null). */
function showOffline(at) {
  oldestShown = at;
  const banner = document.getElementById("offline");
  if (!banner) return;
  banner.hidden = at === null;
  banner.textContent = at === null ? "" : `Offline — showing the state at ${CLOCK.format(at)}`;
}

// The connection dropping while a page is open: what it shows is as of the last fresh answer.
addEventListener("offline", () => showOffline(lastFresh ?? new Date()));
addEventListener("online", () => showOffline(null));
