// The live page: today's within-limit answer rate, the phones ringing now (正在振铃) with
// their ring count ticking, and the latest violations (最新违规), fed by the /api/live
// WebSocket. Data from the server (callers' numbers, agents' names) only goes in textContent.

import {
  bindLanguageButtons,
  chineseNumber,
  formatNumber,
  localTime,
  onLanguageChange,
  startLanguage,
  t,
} from "/static/i18n.js";

const MAX_VIOLATIONS = 50;
const STATS_MIN_INTERVAL_MS = 1000; // refresh the rate at most once a second
const TICK_MS = 200;
const BACKOFF_MAX_MS = 30000;
const KINDS = ["ring_limit", "late_answer", "rang_out", "hung_up_first"];

const state = {
  me: null,
  ringLimit: 3,
  cycleSeconds: 5,
  offsetMs: 0, // server clock − browser clock, from the snapshot's `now`
  ringing: new Map(), // leg_id → {leg, alerted, row, ringsCell, badge, shown}
  violations: [], // newest first
  violationsFailed: false,
  stats: null,
  statsStatus: "loading", // loading | ok | forbidden | error
  statsAt: null,
  conn: "connecting", // connecting | live | reconnecting
  retryAt: 0,
};

const $ = (id) => document.getElementById(id);

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

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function agentCell(name) {
  return name ? cell(name) : cell(t("agent.none"), "muted");
}

function callerCell(caller) {
  return caller ? cell(caller, "mono") : cell(t("caller.none"), "muted");
}

// -- header and connection status --------------------------------------------------------
function renderHeader() {
  const me = state.me;
  if (!me) return;
  $("user-name").textContent = me.name;
  $("user-role").textContent = t(`role.${me.role}`);
  const ext = $("user-extension");
  ext.hidden = !me.extension;
  ext.textContent = me.extension ? t("header.extension", { extension: me.extension }) : "";
}

function renderConn() {
  const box = $("conn");
  box.className = `conn conn-${state.conn}`;
  const seconds = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
  $("conn-text").textContent = t(`conn.${state.conn}`, { seconds });
}

// -- panel 1: today's answer rate ---------------------------------------------------------
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

function renderStats() {
  const forbidden = state.statsStatus === "forbidden";
  $("rate-panel").hidden = forbidden;
  document.querySelector("main").classList.toggle("no-stats", forbidden);
  if (forbidden) return;
  const limit = state.ringLimit;
  $("rate-title").textContent = t("rate.title", { limit, limit_cn: chineseNumber(limit) });
  $("rate-rule").textContent = t("rate.rule", {
    limit,
    limit_cn: chineseNumber(limit),
    cycle: formatNumber(state.cycleSeconds),
  });
  const total = state.statsStatus === "ok" ? state.stats.total : null;
  const rate = total ? total.within_limit_rate : null;
  const noRate = rate === null || rate === undefined;
  $("rate-value").textContent = noRate
    ? "—"
    : formatNumber(rate, { style: "percent", maximumFractionDigits: 1 });
  $("rate-value").classList.toggle("none", noRate);
  let note = "";
  if (state.statsStatus === "error") note = t("rate.error");
  else if (total && (rate === null || rate === undefined)) note = t("rate.no_answers");
  else if (total) {
    note = t("rate.basis", {
      within: formatNumber(total.answered_within_limit),
      answered: formatNumber(total.answered),
    });
  }
  $("rate-note").textContent = note;
  const counts = {
    offered: total?.offered,
    answered: total?.answered,
    late: total?.answered_late,
    abandoned: total?.abandoned,
    unanswered: total?.unanswered,
  };
  for (const [name, value] of Object.entries(counts)) {
    $(`count-${name}`).textContent = value === undefined ? "—" : formatNumber(value);
  }
  $("rate-updated").textContent = state.statsAt
    ? t("rate.updated", { time: localTime(state.statsAt) })
    : "";
}

// -- panel 2: phones ringing now -----------------------------------------------------------
function ringsNow(entry) {
  const started = Date.parse(entry.leg.ring_started_at);
  const elapsed = Math.max(0, Date.now() + state.offsetMs - started);
  return Math.floor(elapsed / (state.cycleSeconds * 1000)) + 1;
}

function buildRingingRow(entry) {
  const leg = entry.leg;
  const row = document.createElement("tr");
  row.dataset.leg = leg.leg_id;
  row.dataset.call = leg.call_id;
  row.append(cell(leg.extension || "", "strong"), agentCell(leg.agent), callerCell(leg.caller));
  const rings = document.createElement("td");
  rings.className = "num";
  entry.ringsCell = document.createElement("span");
  entry.ringsCell.className = "rings";
  entry.badge = document.createElement("span");
  entry.badge.className = "badge badge-over";
  entry.badge.textContent = t("ringing.over");
  rings.append(entry.ringsCell, entry.badge);
  row.append(rings, cell(localTime(leg.ring_started_at), "muted"));
  entry.row = row;
  entry.shown = null;
  updateRingingRow(entry);
}

function updateRingingRow(entry) {
  const rings = ringsNow(entry);
  const over = entry.alerted || rings > state.ringLimit;
  const key = `${rings}/${over}`;
  if (entry.shown === key) return;
  entry.shown = key;
  entry.ringsCell.textContent = t("ringing.rings", { rings, limit: state.ringLimit });
  entry.row.classList.toggle("over", over);
  entry.badge.hidden = !over;
}

function renderRinging() {
  const body = $("ringing-rows");
  const entries = [...state.ringing.values()].sort(
    (a, b) => Date.parse(a.leg.ring_started_at) - Date.parse(b.leg.ring_started_at),
  );
  for (const entry of entries) buildRingingRow(entry);
  body.replaceChildren(...entries.map((e) => e.row)); // longest ringing on top
  renderRingingCount();
}

function renderRingingCount() {
  const n = state.ringing.size;
  $("ringing-count").textContent = formatNumber(n);
  $("ringing-count").classList.toggle("active", n > 0);
  $("ringing-empty").hidden = n > 0;
}

function addRinging(leg) {
  if (!leg.leg_id || !leg.ring_started_at) return;
  const known = state.ringing.get(leg.leg_id);
  if (known) removeRinging(leg.leg_id); // a repeated event: one row per leg
  const entry = { leg, alerted: Boolean(known && known.alerted) };
  state.ringing.set(leg.leg_id, entry);
  buildRingingRow(entry);
  const body = $("ringing-rows");
  const started = Date.parse(leg.ring_started_at);
  const after = [...body.children].find((row) => {
    const other = state.ringing.get(row.dataset.leg);
    return other && Date.parse(other.leg.ring_started_at) > started;
  });
  body.insertBefore(entry.row, after || null);
  renderRingingCount();
}

function removeRinging(legId) {
  const entry = state.ringing.get(legId);
  if (!entry) return;
  state.ringing.delete(legId);
  entry.row.remove();
  renderRingingCount();
}

function tick() {
  for (const entry of state.ringing.values()) updateRingingRow(entry);
  if (state.conn === "reconnecting") renderConn();
}

// -- panel 3: latest violations ---------------------------------------------------------
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

/** Union by id, newest first: live events may arrive while the list is being fetched. */
function mergeViolations(rows) {
  const byId = new Map(state.violations.map((v) => [v.id, v]));
  for (const row of rows) if (row && row.id) byId.set(row.id, row);
  state.violations = [...byId.values()]
    .sort((a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at))
    .slice(0, MAX_VIOLATIONS);
}

function violationRow(v) {
  const row = document.createElement("tr");
  row.dataset.violation = v.id;
  const kind = document.createElement("td");
  const badge = document.createElement("span");
  const known = KINDS.includes(v.kind);
  badge.className = `badge kind kind-${known ? v.kind : "other"}`;
  badge.textContent = known ? t(`kind.${v.kind}`) : String(v.kind);
  kind.append(badge);
  const rings =
    v.rings === null || v.rings === undefined ? "" : t("violations.rings", { rings: v.rings });
  row.append(
    cell(localTime(v.occurred_at), "muted nowrap"),
    kind,
    cell(v.extension || "", "strong"),
    agentCell(v.agent),
    callerCell(v.caller),
    cell(rings, "num"),
  );
  return row;
}

function renderViolations() {
  $("violation-rows").replaceChildren(...state.violations.map(violationRow));
  const empty = $("violations-empty");
  empty.hidden = state.violations.length > 0 && !state.violationsFailed;
  empty.textContent = t(state.violationsFailed ? "violations.error" : "violations.empty");
}

function prependViolation(v) {
  if (!v.id || state.violations.some((x) => x.id === v.id)) return;
  // /api/violations gives agents only their own; the live feed sends everyone's.
  if (state.me && state.me.role === "agent" && v.agent !== state.me.name) return;
  mergeViolations([v]);
  if (state.violations[0] !== v) {
    renderViolations(); // an older one arrived late: re-sort
    return;
  }
  const row = violationRow(v);
  row.classList.add("fresh");
  const body = $("violation-rows");
  body.prepend(row);
  while (body.children.length > MAX_VIOLATIONS) body.lastElementChild.remove();
  $("violations-empty").hidden = true;
}

// -- the live feed ------------------------------------------------------------------------
function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      state.offsetMs = Date.parse(msg.now) - Date.now();
      state.ringLimit = msg.ring_limit;
      state.cycleSeconds = msg.cycle_seconds;
      state.ringing.clear();
      for (const leg of msg.ringing || []) {
        state.ringing.set(leg.leg_id, { leg, alerted: leg.rings > msg.ring_limit });
      }
      renderRinging();
      attempt = 0;
      state.conn = "live";
      renderConn();
      if (!state.me) loadMe().catch(() => {});
      if (catchUp) {
        // Catch up on whatever happened while we were away.
        loadStats();
        loadViolations();
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

async function logout() {
  stopping = true;
  if (socket) socket.close(1000);
  try {
    await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  } catch {
    // offline: the session cookie still expires on its own
  }
  window.location.replace("/login");
}

function renderAll() {
  renderHeader();
  renderConn();
  renderStats();
  renderRinging();
  renderViolations();
}

/** Who is signed in; false when the server cannot say (down): the feed retries. */
async function loadMe() {
  try {
    const response = await api("/api/me");
    if (!response.ok) return false;
    state.me = await response.json();
    renderHeader();
    return true;
  } catch (err) {
    if (err instanceof SignedOut) throw err;
    return false;
  }
}

async function start() {
  try {
    await loadMe();
  } catch {
    return; // signed out: on the way to the login page
  }
  try {
    await startLanguage(state.me ? state.me.language : null);
  } catch (err) {
    console.error("loading the dictionary failed", err);
  }
  onLanguageChange(renderAll);
  bindLanguageButtons();
  $("logout").addEventListener("click", logout);
  renderAll();
  document.querySelector(".topbar").hidden = false;
  document.querySelector("main").hidden = false;
  setInterval(tick, TICK_MS);
  if (!state.me) {
    reconnectLater(); // the server is unreachable: retry; a 401 then goes to the login page
    return;
  }
  loadStats();
  loadViolations();
  catchUp = false;
  connect();
}

start();
