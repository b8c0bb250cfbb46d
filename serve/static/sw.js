// The service worker: the dashboard's pages and assets kept so that they open offline, and the
// last answers of the API reads the incident list needs, so that offline it shows the state it
// last saw (with the time it was read, in the X-Tocsin-Saved-At header offline.js looks for).
//
// Served at /sw.js with scope "/" by serve/dashboard.py, which writes RELEASE in: a version
// hashed from every file of serve/static/, the offline pages and the shell to keep. A release
// that changes any file is a new worker with new caches; the old ones go when it activates.
//
// Never kept: anything but GET, other origins, the live stream, answers other than 200, API
// reads not in SAVED_READS. The saved answers are one person's: they are dropped when anyone
// logs in or out (here and in offline.js) and when the API answers 401.

importScripts("/static/sw-push.js");

const RELEASE = __RELEASE__;
const SHELL_CACHE = `tocsin-shell-${RELEASE.version}`;
const ANSWERS_CACHE = `tocsin-api-${RELEASE.version}`;
const SAVED_AT = "X-Tocsin-Saved-At";
const SESSION = "/api/v1/session";
// The reads behind the incident list: the session, the names it shows, and the list itself.
const SAVED_READS = new Set([
  SESSION, "/api/v1/incidents", "/api/v1/services", "/api/v1/users", "/api/v1/escalation-policies",
  "/api/v1/schedules",
]);
const OFFLINE_PAGES = new Set(RELEASE.pages);

// Bumped when a login or logout starts and ends: a read that began before is not saved after.
let generation = 0;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(RELEASE.shell);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const current = new Set([SHELL_CACHE, ANSWERS_CACHE]);
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name.startsWith("tocsin-") && !current.has(name))
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === SESSION && request.method !== "GET") {
    event.respondWith(sessionChange(request));
  } else if (request.method !== "GET") {
    return; // sent as it is, never kept
  } else if (request.mode === "navigate") {
    event.respondWith(page(request, url));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(asset(request));
  } else if (SAVED_READS.has(url.pathname)) {
    event.respondWith(read(request, url));
  }
  // Anything else (the live stream, other reads) goes to the network untouched.
});

/** A page from the network; offline, the kept copy of an offline page. */
async function page(request, url) {
  try {
    return await fetch(request);
  } catch (error) {
    const kept = OFFLINE_PAGES.has(url.pathname) ? await caches.match(url.pathname, { cacheName: SHELL_CACHE }) : null;
    if (kept) return kept;
    throw error;
  }
}

/** This release's copy of an asset (the cache is replaced with the release), else the network. */
async function asset(request) {
  return (await caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true })) ?? fetch(request);
}

/** The network's answer, kept when it is a 200 (first pages only: "older" pages are not);
 * offline, the last answer kept for the same address. */
async function read(request, url) {
  const started = generation;
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const kept = await caches.match(request, { cacheName: ANSWERS_CACHE });
    if (kept) return kept;
    throw error;
  }
  if (response.status === 401) {
    await forgetAnswers();
  } else if (response.status === 200 && !url.searchParams.has("cursor")) {
    await keep(request, response.clone(), started);
  }
  return response;
}

async function keep(request, response, started) {
  const headers = new Headers(response.headers);
  headers.set(SAVED_AT, new Date().toISOString());
  const copy = new Response(await response.blob(), { status: response.status, statusText: response.statusText, headers });
  if (started !== generation) return; // someone logged in or out meanwhile
  await (await caches.open(ANSWERS_CACHE)).put(request, copy);
}

/** A login or logout: sent as it is; what the previous person read is forgotten. */
async function sessionChange(request) {
  generation += 1;
  try {
    return await fetch(request);
  } finally {
    generation += 1;
    await forgetAnswers();
  }
}

async function forgetAnswers() {
  const names = await caches.keys();
  await Promise.all(names.filter((name) => name.startsWith("tocsin-api-")).map((name) => caches.delete(name)));
}
