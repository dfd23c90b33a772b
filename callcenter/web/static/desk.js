// The desk (entry module): who is signed in, the intake script's opening, the /api/live
// WebSocket and the screen-pop: when the signed-in agent's own extension rings, the caller's
// number at once, then their history from the tickets API. The form is desk-form.js, the
// ticket view desk-ticket.js, the recent tickets desk-recent.js, the callbacks due
// desk-callbacks.js, the incident banner (片区故障) and its one key desk-incident.js.

import {
  bindLanguageButtons,
  localTime,
  onLanguageChange,
  setTimeZone,
  startLanguage,
  t,
  timeZoneName,
} from "/static/i18n.js";
import { anomalyMessage } from "/static/desk-anomalies.js";
import { api, SignedOut } from "/static/desk-api.js";
import { callbackMessage, catchUpCallbacks, renderCallbacks, startCallbacks } from "/static/desk-callbacks.js";
import { renderForm, startForm, useCaller } from "/static/desk-form.js";
import {
  catchUpIncidents,
  incidentsForCall,
  incidentsForHistory,
  incidentsMessage,
  renderIncidents,
  startIncidents,
} from "/static/desk-incident.js";
import { catchUpRecent, renderRecent, startRecent, ticketTouched } from "/static/desk-recent.js";
import { callEnded, ticketItem } from "/static/desk-ticket.js";

const BACKOFF_MAX_MS = 30000;
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  config: { opening: "您好" },
  conn: "connecting",
  retryAt: 0,
  pop: null, // {callId, legId, caller, since, state: ringing|answered|ended, history, historyStatus}
};

// -- header -------------------------------------------------------------------------------
function renderHeader() {
  const me = state.me;
  if (!me) return;
  $("user-name").textContent = me.name;
  $("user-role").textContent = t(`role.${me.role}`);
  const ext = $("user-extension");
  ext.hidden = !me.extension;
  ext.textContent = me.extension ? t("header.extension", { extension: me.extension }) : "";
  $("times-zone").textContent = t("times.zone", { zone: timeZoneName() });
}

function renderConn() {
  $("conn").className = `conn conn-${state.conn}`;
  const seconds = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
  $("conn-text").textContent = t(`conn.${state.conn}`, { seconds });
}

/** 「您好,大龙供暖报修(工号)为您服务,请问您有什么问题」, the holiday greeting for 您好. */
function renderOpening() {
  const work = state.me && state.me.work_number ? `${state.me.work_number}号` : "(工号)";
  $("script-opening").textContent =
    `${state.config.opening || "您好"},大龙供暖报修${work}为您服务,请问您有什么问题?`;
}

// -- the screen-pop -----------------------------------------------------------------------
function renderList(id, tickets) {
  const list = $(id);
  list.replaceChildren(...tickets.map(ticketItem));
  if (!tickets.length) {
    const li = document.createElement("li");
    li.className = "muted small";
    li.textContent = t("pop.none");
    list.append(li);
  }
}

function renderPop() {
  const pop = state.pop;
  $("pop-idle").hidden = Boolean(pop);
  $("pop-call").hidden = !pop;
  $("pop").classList.toggle("popped", Boolean(pop && pop.state === "ringing"));
  if (!pop) return;
  $("pop-state").textContent = t(`pop.state.${pop.state}`);
  $("pop-state").className = `pop-state pop-${pop.state}`;
  $("pop-caller").textContent = pop.caller || t("caller.none");
  $("pop-since").textContent = t("pop.since", { time: localTime(pop.since) });
  const status = $("pop-history-status");
  status.textContent = pop.historyStatus === "ok" ? "" : t(`pop.history.${pop.historyStatus}`);
  const box = $("pop-history");
  box.hidden = pop.historyStatus !== "ok";
  if (pop.historyStatus !== "ok") return;
  const h = pop.history;
  $("pop-address-line").hidden = !h.address;
  $("pop-address").textContent = h.address || "";
  renderList("pop-open", h.open || []);
  renderList("pop-tickets", h.tickets || []);
  renderList("pop-address-tickets", h.address_tickets || []);
}

async function loadHistory(pop) {
  const digits = (pop.caller || "").replace(/[^0-9+]/g, "");
  const path = digits.length >= 7 && !/[*]/.test(pop.caller)
    ? `/api/callers/${encodeURIComponent(digits)}/history`
    : `/api/screen-pop?call=${encodeURIComponent(pop.callId)}`;
  let history = null;
  let status = "unavailable";
  try {
    const response = await api(path);
    if (response.ok) {
      history = await response.json();
      status = "ok";
    } else if (response.status === 400) {
      status = "no_number"; // a withheld or foreign number: nothing to look up by
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the caller's history failed", err);
  }
  if (state.pop !== pop) return; // another call rang meanwhile
  pop.history = history;
  pop.historyStatus = status;
  renderPop();
  incidentsForHistory(pop); // is the caller's flat inside a live incident (片区故障)?
}

function popCaller(msg) {
  const pop = {
    callId: msg.call_id,
    legId: msg.leg_id,
    caller: msg.caller,
    since: msg.ring_started_at,
    state: "ringing",
    history: null,
    historyStatus: "loading",
  };
  state.pop = pop;
  renderPop(); // the number at once, before any request
  useCaller(pop);
  incidentsForCall(pop);
  loadHistory(pop);
}

/** The signed-in agent's own phone ringing with a resident's call (not an outbound leg). */
function mine(msg) {
  if (msg.monitored === false) return false;
  return Boolean(state.me && state.me.extension && msg.extension === state.me.extension);
}

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      if (msg.timezone && setTimeZone(msg.timezone)) renderHeader();
      if (attempt > 0) {
        catchUpRecent(); // tickets taken while the feed was away
        catchUpCallbacks();
        catchUpIncidents();
      }
      attempt = 0;
      state.conn = "live";
      renderConn();
      for (const leg of msg.ringing || []) {
        if (mine(leg) && (!state.pop || state.pop.legId !== leg.leg_id)) popCaller(leg);
      }
      break;
    case "phone_rang":
      if (mine(msg)) popCaller(msg);
      break;
    case "phone_stopped":
      if (state.pop && state.pop.legId === msg.leg_id) {
        state.pop.state = msg.outcome === "answered" ? "answered" : "missed";
        renderPop();
      }
      break;
    case "call_closed":
      if (state.pop && state.pop.callId === msg.call_id) {
        state.pop.state = state.pop.state === "answered" ? "ended" : "missed";
        renderPop();
      }
      callEnded(msg.call_id);
      break;
    case "ticket": // taken or changed: no resident data in it, the API has the rest
    case "order": // an order moved its ticket's status
      ticketTouched(msg);
      callbackMessage(msg); // a return books a callback, a complaint taken too
      break;
    case "callback": // one of hers made or re-booked: its ticket may have closed
      ticketTouched(msg);
      callbackMessage(msg);
      break;
    case "anomaly": // one on the ticket shown: its list is read again
      anomalyMessage(msg);
      break;
    case "incidents": // one opened, changed or closed, or the reports it took
      incidentsMessage(msg);
      break;
    default:
      break;
  }
}

// -- the live feed ------------------------------------------------------------------------
let socket = null;
let attempt = 0;
let stopping = false;

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
    attempt += 1;
    const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
    state.conn = "reconnecting";
    state.retryAt = Date.now() + delay;
    renderConn();
    setTimeout(async () => {
      try {
        await api("/api/me"); // a refused handshake looks like a network error
      } catch (err) {
        if (err instanceof SignedOut) return;
      }
      connect();
    }, delay);
  });
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
  renderOpening();
  renderPop();
  renderForm();
  renderRecent();
  renderCallbacks();
  renderIncidents();
}

async function start() {
  try {
    const response = await api("/api/me");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    state.me = await response.json();
    setTimeZone(state.me.timezone);
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.error("who is signed in is unknown", err);
  }
  try {
    const response = await api("/api/desk/config");
    if (response.ok) state.config = await response.json();
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("the desk's settings did not load: 您好 it is", err);
  }
  try {
    await startLanguage(state.me ? state.me.language : null);
  } catch (err) {
    console.error("loading the dictionary failed", err);
  }
  onLanguageChange(renderAll);
  bindLanguageButtons();
  $("logout").addEventListener("click", logout);
  await startForm();
  startRecent(state.me);
  startCallbacks(state.me);
  startIncidents();
  renderAll();
  document.querySelector(".topbar").hidden = false;
  document.querySelector("main").hidden = false;
  document.querySelector('#kind-group input[type="radio"]:checked')?.focus();
  setInterval(renderConn, 1000);
  connect();
}

start();
