// Live incident changes from /api/v1/stream (server-sent events).
//
// EventSource reconnects by itself after a dropped connection, sending Last-Event-ID. When
// the server answers with an error instead (a replica restarting, a session that expired)
// it gives up for good; then a new one is opened after a growing pause, resuming from the
// last event seen. Each (re)connection calls onConnect, so a page can reload what it shows
// and miss nothing that changed while it was not listening; so does a reset, which the
// server sends when it no longer holds the events a client missed.

const FIRST_PAUSE_MS = 1000;
const LONGEST_PAUSE_MS = 30000;

/**
 * Calls onChange({incident, entries}) for each incident change, on the given service only
 * when serviceId is set, and onState("live" | "connecting") as the connection comes and goes.
 * Returns a function that stops listening.
 */
export function watchIncidents({ serviceId = null, onChange, onConnect = () => {}, onState = () => {} }) {
  let lastEventId = null;
  let source = null;
  let pause = FIRST_PAUSE_MS;
  let stopped = false;

  function open() {
    const query = new URLSearchParams();
    if (serviceId) query.set("service_id", serviceId);
    if (lastEventId) query.set("last_event_id", lastEventId);
    const text = query.toString();
    source = new EventSource(text ? `/api/v1/stream?${text}` : "/api/v1/stream");
    onState("connecting");
    source.addEventListener("open", () => {
      pause = FIRST_PAUSE_MS;
      onState("live");
      onConnect();
    });
    source.addEventListener("incident", (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      onChange(JSON.parse(event.data));
    });
    // The bus no longer holds what we missed: read everything again.
    source.addEventListener("reset", (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      onConnect();
    });
    source.addEventListener("error", () => {
      onState("connecting");
      if (source.readyState === EventSource.CLOSED && !stopped) {
        setTimeout(open, pause);
        pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
      }
    });
  }

  open();
  addEventListener("pagehide", () => stop());
  function stop() {
    stopped = true;
    source?.close();
  }
  return stop;
}

/** Show the connection state in the page's live indicator (an element with id "live"). */
export function showLiveState(state) {
  const indicator = document.getElementById("live");
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = state === "live" ? "Live" : "Connecting…";
}
