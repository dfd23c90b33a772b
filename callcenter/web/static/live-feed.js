// The live page's link to the server: the signed-in user, the service's health and the event
// sources' (every 5 s), the answer statistics and the violations over HTTP, and the /api/live
// WebSocket (snapshot, events, reconnect with backoff), all written into the panels' state and
// drawn by live-panels.js.

import { setTimeZone } from "/static/i18n.js";
import { anomalyMessage, loadAnomalies } from "/static/live-anomalies.js";
import { incidentsMessage, loadIncidents } from "/static/live-incidents.js";
import { lineMessage, lineSnapshot } from "/static/live-line.js";
import {
  MAX_VIOLATIONS,
  addChargeNotice,
  addOverflowFailure,
  addRinging,
  markOverflow,
  mergeViolations,
  prependViolation,
  removeRinging,
  renderConn,
  renderHeader,
  renderHealth,
  renderRinging,
  renderSources,
  renderStats,
  renderViolations,
  state,
  updateRingingRow,
  useTimeZone,
} from "/static/live-panels.js";

const STATS_MIN_INTERVAL_MS = 1000; // refresh the rate at most once a second
const SOURCES_INTERVAL_MS = 5000;
const HEALTH_INTERVAL_MS = 5000;
const BACKOFF_MAX_MS = 30000;

class SignedOut extends Error {}

/** fetch with the session cookie; a 401 means the session is over: back to the login page. */
async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    ...options,
  });
  if (response.status === 401) {
    window.location.replace("/login");
    throw new SignedOut();
  }
  return response;
}

/** Who is signed in; false when the server cannot say (down): the feed retries. */
export async function loadMe() {
  try {
    const response = await api("/api/me");
    if (!response.ok) return false;
    const me = await response.json();
    if (state.me) useTimeZone(me.timezone);
    else setTimeZone(me.timezone); // before the first drawing
    state.me = me;
    renderHeader();
    return true;
  } catch (err) {
    if (err instanceof SignedOut) throw err;
    return false;
  }
}

// -- panel 1 data: today's answer rate ----------------------------------------------------
let statsSeq = 0;

async function loadStats() {
  if (state.statsStatus === "forbidden") return;
  const seq = ++statsSeq;
  try {
    const response = await api("/api/stats/answers");
    if (seq !== statsSeq) return; // a newer request is on its way: keep its answer
    if (response.status === 403) {
      state.statsStatus = "forbidden"; // agents: the panel is not theirs to see
    } else if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    } else {
      const body = await response.json();
      if (seq !== statsSeq) return;
      useTimeZone(body.timezone);
      state.stats = body;
      state.statsStatus = "ok";
      state.statsAt = new Date().toISOString();
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the answer statistics failed", err);
    state.statsStatus = "error";
  }
  renderStats();
}

let statsTimer = null;
let statsLast = 0;

/** Debounced: events come in bursts (phone_stopped + call_closed + violation). */
function refreshStatsSoon() {
  if (state.statsStatus === "forbidden" || statsTimer !== null) return;
  const wait = Math.max(0, statsLast + STATS_MIN_INTERVAL_MS - Date.now());
  statsTimer = setTimeout(() => {
    statsTimer = null;
    statsLast = Date.now();
    loadStats();
  }, wait);
}

// -- panel 1b data: PBX event sources --------------------------------------------------
let sourcesSeq = 0;
let sourcesTimer = null;

async function loadSources() {
  if (state.sourcesStatus === "forbidden") return;
  const seq = ++sourcesSeq;
  try {
    const response = await api("/api/sources");
    if (seq !== sourcesSeq) return;
    if (response.status === 403) {
      state.sourcesStatus = "forbidden"; // agents: not theirs to see
      clearInterval(sourcesTimer);
    } else if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    } else {
      const body = await response.json();
      if (seq !== sourcesSeq) return;
      state.sources = Array.isArray(body) ? body : [];
      state.sourcesStatus = "ok";
      state.sourcesAt = new Date().toISOString();
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the event sources failed", err);
    state.sourcesStatus = "error"; // the last list stays, with the note
  }
  renderSources();
}

/** Poll every 5 s while the page is shown and live (a reconnect's snapshot catches up). */
function watchSources() {
  if (sourcesTimer !== null) return;
  const due = () => !document.hidden && state.conn === "live";
  sourcesTimer = setInterval(() => {
    if (due()) loadSources();
  }, SOURCES_INTERVAL_MS);
  document.addEventListener("visibilitychange", () => {
    if (due()) loadSources(); // shown again: at once
  });
}

// -- the service's health: ok (200) or degraded (503), with the reasons for a signed-in user --
let healthSeq = 0;
let healthTimer = null;

async function loadHealth() {
  const seq = ++healthSeq;
  let health = "unknown";
  let reasons = [];
  try {
    const response = await api("/api/health");
    const body = await response.json(); // a 503 answers too; a proxy's error page does not parse
    if (body && body.status === "ok") health = "ok";
    else if (body && body.status === "degraded") {
      health = "degraded";
      // Absent when the server could not check the session (its database is down).
      reasons = Array.isArray(body.reasons) ? body.reasons.map(String) : [];
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("checking the service's health failed", err); // unknown, not degraded
  }
  if (seq !== healthSeq) return; // a newer check is on its way: keep its answer
  state.health = health;
  state.healthReasons = reasons;
  state.healthAt = new Date().toISOString();
  renderHealth();
}

/** Ask every 5 s while the page is shown and live, and at once when it is shown again. */
function watchHealth() {
  if (healthTimer !== null) return;
  const due = () => !document.hidden && state.conn === "live";
  healthTimer = setInterval(() => {
    if (due()) loadHealth();
  }, HEALTH_INTERVAL_MS);
  document.addEventListener("visibilitychange", () => {
    if (due()) loadHealth();
  });
}

// -- panel 3 data: latest violations ----------------------------------------------------
async function loadViolations() {
  try {
    const response = await api(`/api/violations?limit=${MAX_VIOLATIONS}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const rows = await response.json();
    state.violationsFailed = false;
    mergeViolations(rows);
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the violations failed", err);
    state.violationsFailed = true;
  }
  renderViolations();
}

// -- the live feed ------------------------------------------------------------------------
function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      state.offsetMs = Date.parse(msg.now) - Date.now();
      state.ringLimit = msg.ring_limit;
      state.cycleSeconds = msg.cycle_seconds;
      renderStats(); // the rule under the rate, if the statistics came first
      useTimeZone(msg.timezone);
      state.ringing.clear();
      for (const leg of msg.ringing || []) {
        const alerted = leg.state !== "unknown" && leg.rings > msg.ring_limit;
        state.ringing.set(leg.leg_id, { leg, alerted });
      }
      renderRinging();
      lineSnapshot(msg.line);
      attempt = 0;
      state.conn = "live";
      renderConn();
      if (!state.me) loadMe().catch(() => {});
      if (catchUp) {
        // Catch up on whatever happened while we were away.
        loadHealth();
        loadStats();
        loadSources();
        loadViolations();
        loadAnomalies();
        loadIncidents();
      }
      catchUp = true;
      break;
    case "phone_rang":
      if (msg.monitored !== false) addRinging(msg);
      break;
    case "phone_stopped":
      removeRinging(msg.leg_id);
      refreshStatsSoon();
      break;
    case "call_closed":
      for (const entry of [...state.ringing.values()]) {
        if (entry.leg.call_id === msg.call_id) removeRinging(entry.leg.leg_id);
      }
      refreshStatsSoon();
      break;
    case "violation":
      prependViolation(msg);
      refreshStatsSoon();
      break;
    case "overflow":
      markOverflow(msg);
      break;
    case "overflow_failed":
      addOverflowFailure(msg);
      break;
    case "anomaly":
      anomalyMessage(msg);
      break;
    case "incidents":
      incidentsMessage(msg);
      break;
    case "callback":
      addChargeNotice(msg);
      break;
    case "line_down":
    case "line_up":
      lineMessage(msg);
      break;
    case "ring_limit": {
      const entry = state.ringing.get(msg.leg_id);
      if (entry) {
        entry.alerted = true;
        updateRingingRow(entry);
      }
      break;
    }
    default:
      break; // a newer server's message: ignore
  }
}

let socket = null;
let attempt = 0;
let stopping = false;
let catchUp = true; // false right after the page's own first loads

function connect() {
  state.conn = "connecting";
  renderConn();
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${window.location.host}/api/live`);
  socket = ws;
  ws.addEventListener("message", (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (msg && typeof msg === "object") onMessage(msg);
  });
  ws.addEventListener("close", () => {
    if (socket !== ws || stopping) return;
    socket = null;
    reconnectLater();
  });
}

function reconnectLater() {
  attempt += 1;
  const base = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (attempt - 1));
  const delay = base * (0.8 + Math.random() * 0.4);
  state.conn = "reconnecting";
  state.retryAt = Date.now() + delay;
  renderConn();
  setTimeout(async () => {
    // A refused handshake looks like a network error: ask whether the session still holds.
    try {
      await api("/api/me");
    } catch (err) {
      if (err instanceof SignedOut) return;
    }
    connect();
  }, delay);
}

/** Load the panels and open the feed; without a user (server unreachable) retry instead. */
export function startFeed() {
  watchSources();
  watchHealth();
  loadHealth(); // at once, even when the server looks down: then "health unknown"
  if (!state.me) {
    reconnectLater(); // the server is unreachable: retry; a 401 then goes to the login page
    return;
  }
  loadStats();
  loadSources();
  loadViolations();
  catchUp = false;
  connect();
}

/** Close the feed for good (signing out): no reconnect. */
export function stopFeed() {
  stopping = true;
  clearInterval(sourcesTimer);
  clearInterval(healthTimer);
  if (socket) socket.close(1000);
}
